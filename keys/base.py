"""What every token-signing key backend offers, and the words shared by the keys package.

A backend creates key pairs and turns the stored form of a private key (an
encrypted PEM, or a label inside an HSM) back into a joserfc key that
can sign. Which backend a stored key needs is written in its row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from joserfc.jwk import Key

ALGORITHMS: tuple[str, ...] = ("RS256", "ES256")
"""Signing algorithms the provider publishes keys for."""

NEXT = "next"
"""Published in the JWKS, not yet signing: relying parties learn it before it is used."""
CURRENT = "current"
"""Signs new tokens (one per algorithm)."""
RETIRED = "retired"
"""No longer signs; stays published until every token it signed has expired."""


class SigningKeyError(Exception):
    """The signing keys cannot be used as stored (missing, unknown backend, damaged)."""


class KeyPassphraseError(SigningKeyError):
    """A private key could not be decrypted: wrong passphrase or damaged key."""


class KeyBackend(Protocol):
    """Creates key pairs and loads stored private keys for signing."""

    @property
    def name(self) -> str:
        """The value stored in `SigningKey.backend` for keys this backend made."""
        ...

    def generate(self, alg: str) -> tuple[str, dict]:
        """Create a key pair for `alg`; return (stored private key, public JWK with kid)."""
        ...

    def load_private(self, stored_private: str, alg: str) -> Key:
        """Turn a stored private key back into a joserfc key that signs with `alg`."""
        ...

    def release(self, stored_private: str, alg: str) -> None:
        """The key ring no longer signs with this key: let go of what the process holds of
        its private part."""
        ...

    def destroy(self, stored_private: str, alg: str) -> None:
        """Delete a key this backend made, now that no token it signed is still valid."""
        ...


def check_alg(alg: str) -> None:
    """Refuse an algorithm the provider does not sign with."""
    if alg not in ALGORITHMS:
        raise ValueError(f"unsupported signing algorithm {alg!r}; expected one of {ALGORITHMS}")


def backend_for(name: str, backends: Mapping[str, KeyBackend]) -> KeyBackend:
    """The backend a stored key names, or a clear error if this node lacks it."""
    try:
        return backends[name]
    except KeyError:
        raise SigningKeyError(
            f"signing key needs the {name!r} key backend, which is not configured"
        ) from None
