"""Signing keys kept in the database as passphrase-encrypted PKCS#8 PEM.

The private key never rests in clear: a copy of the database (or a backup)
is useless without `keys.passphrase`, which lives in the environment.
"""

from __future__ import annotations

import threading
from typing import ClassVar

from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
)
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey

from keys.base import KeyPassphraseError, SigningKeyError, check_alg

_RSA_BITS = 2048
_EC_CURVE = "P-256"

# Keys this process has decrypted, shared by its key rings: a ring rebuilt after a rotation,
# or a second app in the process, does not pay the RSA decryption again. A ring releases a
# key it stops signing with, so the process keeps no retired or withdrawn private key.
_DECRYPTED_MAX = 32
_decrypted: dict[tuple[str, str, bytes], Key] = {}
_decrypted_lock = threading.Lock()


class SoftwareKeyBackend:
    """Generates keys in process and stores them encrypted with a passphrase."""

    name: ClassVar[str] = "software"

    def __init__(self, passphrase: str) -> None:
        if not passphrase:
            raise ValueError("a non-empty passphrase is needed to encrypt signing keys")
        self._passphrase = passphrase.encode("utf-8")

    def generate(self, alg: str) -> tuple[str, dict]:
        """Create a key pair for `alg`; return (encrypted PKCS#8 PEM, public JWK).

        The kid is the RFC 7638 thumbprint, so it is derived from the key
        itself and identical on every node.
        """
        check_alg(alg)
        params = {"alg": alg, "use": "sig"}
        key: RSAKey | ECKey
        if alg == "RS256":
            key = RSAKey.generate_key(_RSA_BITS, parameters=params)
        else:
            key = ECKey.generate_key(_EC_CURVE, parameters=params)
        pem = key.private_key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(self._passphrase)
        )
        return pem.decode("ascii"), key.as_dict(private=False, kid=key.thumbprint())

    def destroy(self, stored_private: str, alg: str) -> None:
        """Nothing to do: the encrypted key lives only in the database row being deleted."""

    def load_private(self, stored_private: str, alg: str) -> Key:
        """Decrypt a stored PEM into a joserfc key limited to `alg` and signatures.

        Costly (tens of milliseconds for RSA), so the process remembers the keys it has
        decrypted until a key ring releases them.
        """
        check_alg(alg)
        remembered = (stored_private, alg, self._passphrase)
        with _decrypted_lock:
            key = _decrypted.get(remembered)
        if key is None:
            key = _decrypt(stored_private, alg, self._passphrase)
            with _decrypted_lock:
                _decrypted[remembered] = key
                while len(_decrypted) > _DECRYPTED_MAX:
                    del _decrypted[next(iter(_decrypted))]  # the oldest
        return key

    def release(self, stored_private: str, alg: str) -> None:
        """Forget the decrypted key: the ring no longer signs with it."""
        with _decrypted_lock:
            _decrypted.pop((stored_private, alg, self._passphrase), None)


def _decrypt(stored_private: str, alg: str, passphrase: bytes) -> Key:
    params = {"alg": alg, "use": "sig"}
    key: RSAKey | ECKey
    try:
        if alg == "RS256":
            key = RSAKey.import_key(stored_private, params, password=passphrase)
        else:
            key = ECKey.import_key(stored_private, params, password=passphrase)
    except JoseError as exc:
        raise SigningKeyError(f"stored private key is not a key for {alg}: {exc}") from exc
    except (ValueError, TypeError) as exc:
        # cryptography says ValueError for a wrong passphrase or a damaged PEM,
        # and TypeError when the PEM is not encrypted at all.
        raise KeyPassphraseError(
            "cannot decrypt the private signing key: wrong keys.passphrase "
            "(IDP_KEY_PASSPHRASE), or the stored key is damaged or unencrypted"
        ) from exc
    if isinstance(key, ECKey) and key.curve_name != _EC_CURVE:
        raise SigningKeyError(f"stored ES256 key is on {key.curve_name}, not {_EC_CURVE}")
    if not key.is_private:
        raise SigningKeyError("stored key is a public key; it cannot sign")
    key.ensure_kid()  # the thumbprint, as `generate` chose it
    return key
