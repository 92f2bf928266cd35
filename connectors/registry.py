"""Finds connector implementations by name through the `idp.connectors` entry points."""

from __future__ import annotations

import functools
import logging
import sys
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from connectors.base import Connector, ConnectorSettings

log = logging.getLogger(__name__)

GROUP = "idp.connectors"


class UnknownConnector(LookupError):
    """No installed plugin has that name."""


def load_connector(name: str) -> type[Connector]:
    """The class registered under `name`; a plugin that fails to import is logged."""
    entry = _installed(tuple(sys.path)).get(name)
    if entry is None:
        available = sorted(_installed(tuple(sys.path)))
        raise UnknownConnector(f"no connector named {name!r}; installed: {', '.join(available)}")
    try:
        return entry.load()
    except Exception:
        log.exception("connector plugin %s failed to load", name)
        raise


@functools.lru_cache(maxsize=8)
def _installed(search_path: tuple[str, ...]) -> dict[str, EntryPoint]:
    # Reading every installed distribution's metadata takes milliseconds and every
    # connector section asks, so it is read once per search path: a plugin installed
    # while the provider runs is seen at its next start, like any other code.
    return {entry.name: entry for entry in entry_points(group=GROUP)}


def connector_settings(values: Any) -> ConnectorSettings:
    """Validate a config section with the own model of the connector its `connector` key
    names; raises UnknownConnector or pydantic's ValidationError (naming the keys)."""
    name = values.get("connector") if isinstance(values, dict) else None
    if not isinstance(name, str):
        return ConnectorSettings.model_validate(values)  # says what is missing or wrong
    return load_connector(name).settings_model.model_validate(values)
