"""The live parts of one provider instance, built once per app and shared by its views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import current_app

from connectors.registry import load_connector

if TYPE_CHECKING:
    # Types only: every package reaches its provider through `provider()`, so this module
    # imports none of them (no import cycle through the hub).
    from connectors.base import (
        EmailSender,
        InsuranceRegistry,
        PostRegistry,
        SmsSender,
        SubscriberRegistry,
    )
    from idp.clients import RegisteredClients
    from idp.config import Settings
    from idp.db import Database
    from idp.limits import Limiter
    from idp.oidc.client_keys import ClientKeySets
    from idp.security.passwords import PasswordHasher
    from idp.store.state import StateStore
    from keys.ring import KeyRing


@dataclass
class Provider:
    """Settings plus the objects every request needs, created at start-up."""

    settings: Settings
    db: Database
    state: StateStore
    keys: KeyRing
    connectors: dict[str, Any]
    """Every configured connector by section name ([sms], [carrier]... and any plugin's)."""
    passwords: PasswordHasher
    clients: RegisteredClients
    limits: Limiter
    """Every named cap (idp/limits.py), counted in the state store."""
    client_keys: ClientKeySets

    # The outside systems the provider's own flows call (idp.config.CONNECTOR_DEFAULTS).
    @property
    def sms(self) -> SmsSender:
        return self.connectors["sms"]

    @property
    def email(self) -> EmailSender:
        return self.connectors["email"]

    @property
    def carrier(self) -> SubscriberRegistry:
        return self.connectors["carrier"]

    @property
    def bhxh(self) -> InsuranceRegistry:
        return self.connectors["bhxh"]

    @property
    def post(self) -> PostRegistry:
        return self.connectors["post"]

    @property
    def issuer(self) -> str:
        return self.settings.server.issuer

    @property
    def origin(self) -> str:
        """Scheme and host of the issuer: the start of every absolute URL the provider
        writes (links in e-mails and SMS), never taken from the request's Host."""
        parts = urlsplit(self.settings.server.issuer)
        return f"{parts.scheme}://{parts.netloc}"

    def external_url(self, path: str) -> str:
        """`path` (from url_for, so with any script root) as an absolute URL."""
        return self.origin + path


def build_connectors(settings: Settings) -> dict[str, Any]:
    """Every configured connector by section name, built by the plugin its section names
    (found through the `idp.connectors` entry points)."""
    return {name: load_connector(section.connector).from_settings(section, settings.base_dir)
            for name, section in settings.connectors.items()}


def provider() -> Provider:
    """The provider of the current Flask app."""
    return current_app.extensions["idp.provider"]
