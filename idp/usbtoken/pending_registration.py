"""Registration with a USB token, between the signature and the account.

The verified certificate's identity waits in the state store, bound to the browser, for
what the registrant adds (an e-mail, a citizen's birth date). Nothing durable is
written before the last step, so a registrant who walks away leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from dataclasses import dataclass, field
from datetime import date, datetime

from connectors.pki import CertificateIdentity
from idp.provider import provider
from idp.sessions import browser_record


@dataclass
class PendingRegistration:
    """A certificate verified for registration, waiting for the registrant's additions."""

    id: str
    browser: str
    identity: dict
    created: float = field(default_factory=time.time)
    kind: str = "usb"
    """Where the certificate was used: "usb" token or "sim" signature."""

    @property
    def key(self) -> str:
        return f"usb-reg:{self.id}"

    def certificate_identity(self) -> CertificateIdentity:
        values = dict(self.identity)
        if values.get("birthdate"):
            values["birthdate"] = date.fromisoformat(values["birthdate"])
        for name in ("not_after", "not_before"):
            if values.get(name):
                values[name] = datetime.fromisoformat(values[name])
        return CertificateIdentity(**values)


def start_registration(identity: CertificateIdentity, browser: str,
                       kind: str = "usb") -> PendingRegistration:
    """Keep the verified identity for the rest of the registration's lifetime."""
    values = dataclasses.asdict(identity)
    values["not_after"] = identity.not_after.isoformat()
    values["birthdate"] = identity.birthdate.isoformat() if identity.birthdate else None
    values["not_before"] = identity.not_before.isoformat() if identity.not_before else None
    registration = PendingRegistration(secrets.token_urlsafe(24), browser, values, kind=kind)
    provider().state.put(registration.key, dataclasses.asdict(registration),
                         provider().settings.registration.ttl)
    return registration


def load_registration(registration_id: str, browser: str) -> PendingRegistration | None:
    """The registration, if it exists and was started in this browser."""
    data = browser_record("usb-reg", registration_id, browser)
    return PendingRegistration(**data) if data is not None else None


def end_registration(registration: PendingRegistration) -> None:
    provider().state.delete(registration.key)
