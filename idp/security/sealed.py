"""Secrets kept at rest encrypted (TOTP seeds): AES-256-GCM under a key derived from
`keys.passphrase`, the same secret that protects the signing keys."""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from idp.provider import provider


@lru_cache(maxsize=4)
def _cipher(passphrase: str) -> AESGCM:
    key = HKDF(hashes.SHA256(), 32, salt=None, info=b"idp sealed secrets v1").derive(
        passphrase.encode()
    )
    return AESGCM(key)


def seal(plain: str, purpose: str) -> str:
    """Encrypt `plain`; `purpose` binds the ciphertext to its use (it must match on unseal)."""
    nonce = os.urandom(12)
    box = _cipher(provider().settings.keys.passphrase)
    return base64.urlsafe_b64encode(nonce + box.encrypt(nonce, plain.encode(), purpose.encode())
                                    ).decode()


def unseal(sealed: str, purpose: str) -> str:
    """Decrypt what `seal` made for the same purpose; raises ValueError when tampered."""
    raw = base64.urlsafe_b64decode(sealed.encode())
    try:
        plain = _cipher(provider().settings.keys.passphrase).decrypt(
            raw[:12], raw[12:], purpose.encode()
        )
    except Exception as exc:  # InvalidTag: wrong key, purpose or bytes
        raise ValueError("sealed secret cannot be opened") from exc
    return plain.decode()
