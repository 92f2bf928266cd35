"""Shared-identity credentials: SD-JWT VCs (IETF SD-JWT-based Verifiable Credentials) that
the provider signs when a share's QR code is read.

A credential holds one disclosure per chosen item and nothing more: no `sub` (a share is
not linkable to the citizen's portal identities), no holder key, fresh salts each time
it is signed (two reads of one share do not match beyond their values). Its signed part
names the issuer, its type, its expiry and its entry in a revocation status list.
"""

from __future__ import annotations

import time

from joserfc import jwt

from idp.provider import provider
from idp.sharing.claims import VCT
from idp.sharing.sdjwt import SD_ALG, digest, join, make_disclosure

TOKEN_TYPE = "dc+sd-jwt"
MEDIA_TYPE = "application/dc+sd-jwt"
SIGNING_ALG = "ES256"
"""The provider's access-token algorithm; with the HSM backend the key stays in the HSM."""
METADATA_PATH = "/.well-known/jwt-vc-issuer"


def issuer_metadata(issuer: str) -> dict:
    """The JWT VC issuer metadata (SD-JWT VC §5): where a verifier finds the keys."""
    return {"issuer": issuer, "jwks_uri": f"{issuer}/jwks"}


def status_list_uri(issuer: str, list_id: int) -> str:
    """Where the status list `list_id` is published."""
    return f"{issuer}/status-lists/{list_id}"


def issue_credential(claims: dict, *, expires_at: int, status_list: int,
                     status_index: int) -> str:
    """A compact SD-JWT VC disclosing exactly `claims`, valid until `expires_at` (epoch
    seconds), revocable through entry `status_index` of list `status_list`."""
    p = provider()
    disclosures = [make_disclosure(name, value) for name, value in claims.items()]
    payload = {
        "iss": p.issuer,
        "iat": int(time.time()),
        "exp": expires_at,
        "vct": VCT,
        "status": {"status_list": {"idx": status_index,
                                   "uri": status_list_uri(p.issuer, status_list)}},
        # Sorted, so the order of the digests says nothing about the order of the items.
        "_sd": sorted(digest(disclosure) for disclosure in disclosures),
        "_sd_alg": SD_ALG,
    }
    kid, key = p.keys.signing_key(SIGNING_ALG)
    signed = jwt.encode({"alg": SIGNING_ALG, "kid": kid, "typ": TOKEN_TYPE}, payload, key,
                        algorithms=[SIGNING_ALG])
    return join(signed, disclosures)
