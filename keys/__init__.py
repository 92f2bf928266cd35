"""Token-signing keys: backends that hold them, their rotation, and the per-worker key ring.

Typical wiring::

    backends = make_backends(settings.keys)
    with db.begin() as session:
        ensure_keys(session, backends[settings.keys.backend])
    ring = KeyRing(db.sessions, backends, settings.keys.reload_seconds)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keys.base import (
    ALGORITHMS,
    CURRENT,
    NEXT,
    RETIRED,
    KeyBackend,
    KeyPassphraseError,
    SigningKeyError,
)
from keys.pkcs11 import Pkcs11KeyBackend
from keys.ring import KeyRing
from keys.rotation import KeyChange, KeyInfo, ensure_keys, list_keys, rotate, withdraw
from keys.software import SoftwareKeyBackend

if TYPE_CHECKING:
    from idp.config import KeySettings

__all__ = [
    "ALGORITHMS",
    "CURRENT",
    "NEXT",
    "RETIRED",
    "KeyBackend",
    "KeyChange",
    "KeyInfo",
    "KeyPassphraseError",
    "KeyRing",
    "Pkcs11KeyBackend",
    "SigningKeyError",
    "SoftwareKeyBackend",
    "ensure_keys",
    "list_keys",
    "make_backends",
    "rotate",
    "withdraw",
]


def make_backends(settings: KeySettings) -> dict[str, KeyBackend]:
    """Every configured backend under the name stored in `SigningKey.backend`.

    `settings.backend` names the one that makes new keys. The PKCS#11 backend is
    present whenever a module is configured, so HSM keys keep signing after new
    keys go back to software.
    """
    backends: dict[str, KeyBackend] = {
        SoftwareKeyBackend.name: SoftwareKeyBackend(settings.passphrase)
    }
    if settings.pkcs11_module:
        backends[Pkcs11KeyBackend.name] = Pkcs11KeyBackend(
            settings.pkcs11_module, settings.pkcs11_token, settings.pkcs11_pin
        )
    return backends
