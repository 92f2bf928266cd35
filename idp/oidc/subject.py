"""Subject identifiers (OIDC Core §8) and the internal account reference in access tokens.

`sub` is random and stable per account (`public`), or differs per sector
(`pairwise`) so two portals cannot correlate a citizen. Access tokens also
carry an encrypted reference to the account, so userinfo needs no lookup
table and pairwise portals learn nothing from it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from idp.provider import provider
from idp.store.models import Client


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def subject_for(subject: str, client: Client) -> str:
    """The `sub` this client sees for the account whose own subject is `subject`."""
    if client.subject_type != "pairwise":
        return subject
    sector = client.sector_identifier or ""
    salt = provider().settings.server.pairwise_salt.encode()
    return _b64(hmac.new(salt, f"{sector}|{subject}".encode(), hashlib.sha256).digest())


@lru_cache(maxsize=4)
def _cipher(secret_key: str) -> AESGCM:
    key = hashlib.sha256(b"idp account reference|" + secret_key.encode()).digest()
    return AESGCM(key)


def account_ref(account_id: int) -> str:
    """An opaque, encrypted reference to the account, for our own tokens."""
    nonce = os.urandom(12)
    sealed = _cipher(provider().settings.server.secret_key).encrypt(
        nonce, str(account_id).encode(), b"acct"
    )
    return _b64(nonce + sealed)


def account_id_from_ref(ref: str) -> int | None:
    """The account id inside a reference made by `account_ref`, or None if forged."""
    try:
        raw = base64.urlsafe_b64decode(ref + "=" * (-len(ref) % 4))
        plain = _cipher(provider().settings.server.secret_key).decrypt(raw[:12], raw[12:], b"acct")
        return int(plain)
    except Exception:
        return None
