"""Token-signing keys: backends that hold them, their rotation, and the per-worker key ring.

Typical wiring::

    backends = make_backends(settings.keys)
    with db.begin() as session:
        ensure_keys(session, backends[SoftwareKeyBackend.name])
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
from keys.ring import KeyRing
from keys.rotation import KeyChange, KeyInfo, ensure_keys, list_keys, rotate
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
    "SigningKeyError",
    "SoftwareKeyBackend",
    "ensure_keys",
    "list_keys",
    "make_backends",
    "rotate",
]


def make_backends(settings: KeySettings) -> dict[str, KeyBackend]:
    """Every configured backend under the name stored in `SigningKey.backend`."""
    # A PKCS#11 backend joins this mapping under "pkcs11" when it exists.
    return {SoftwareKeyBackend.name: SoftwareKeyBackend(settings.passphrase)}
