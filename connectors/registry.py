"""Finds connector implementations by name through the `idp.connectors` entry points."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Any

from connectors.base import Connector, ConnectorSettings

log = logging.getLogger(__name__)

GROUP = "idp.connectors"


class UnknownConnector(LookupError):
    """No installed plugin has that name."""


def load_connector(name: str) -> type[Connector]:
    """The class registered under `name`; a plugin that fails to import is logged."""
    for entry in entry_points(group=GROUP):
        if entry.name != name:
            continue
        try:
            return entry.load()
        except Exception:
            log.exception("connector plugin %s failed to load", name)
            raise
    available = sorted(entry.name for entry in entry_points(group=GROUP))
    raise UnknownConnector(f"no connector named {name!r}; installed: {', '.join(available)}")


def connector_settings(values: Any) -> ConnectorSettings:
    """Validate a config section with the own model of the connector its `connector` key
    names; raises UnknownConnector or pydantic's ValidationError (naming the keys)."""
    name = values.get("connector") if isinstance(values, dict) else None
    if not isinstance(name, str):
        return ConnectorSettings.model_validate(values)  # says what is missing or wrong
    return load_connector(name).settings_model.model_validate(values)
