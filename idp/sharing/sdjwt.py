"""The SD-JWT wire format (IETF Selective Disclosure for JWTs, RFC 9901): disclosures,
their digests, and the compact `<JWT>~<disclosure>~...~` serialisation.

Written here on top of joserfc rather than taken from the `sd-jwt` reference package:
that package signs only with jwcrypto keys, and the provider's keys may live in an HSM
that joserfc reaches (keys/pkcs11.py). The format itself is this small; the tests check
it against the reference package as an independent implementation.

Only flat, object-property disclosures are made and accepted (no array elements, no
nesting, no decoys): a shared-identity credential is a flat set of chosen claims.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass

SD_ALG = "sha-256"
SEPARATOR = "~"
RESERVED = frozenset({"_sd", "_sd_alg", "...", "iss", "iat", "exp", "nbf", "vct", "status",
                      "cnf", "sub", "vct#integrity"})
"""Claim names that must never come from a disclosure (SD-JWT VC §3.2.2.2)."""


class MalformedSdJwt(ValueError):
    """Not an SD-JWT, or a disclosure that breaks the format's rules."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise MalformedSdJwt("not base64url") from exc


def make_disclosure(name: str, value: object) -> str:
    """A disclosure of one object property, with a fresh 128-bit salt (RFC 9901 §4.2.1)."""
    salt = b64url(secrets.token_bytes(16))
    raw = json.dumps([salt, name, value], ensure_ascii=False, separators=(",", ":"))
    return b64url(raw.encode("utf-8"))


def digest(disclosure: str) -> str:
    """The digest that the signed payload lists for `disclosure` (over its ASCII form)."""
    return b64url(hashlib.sha256(disclosure.encode("ascii")).digest())


@dataclass(frozen=True)
class Parts:
    """A compact SD-JWT taken apart, nothing verified yet."""

    jws: str
    disclosures: list[str]


def join(jws: str, disclosures: list[str]) -> str:
    """The compact serialisation without key binding: `<JWT>~<D1>~...~<Dn>~`."""
    return SEPARATOR.join([jws, *disclosures, ""])


def split(presentation: str) -> Parts:
    """Take a compact SD-JWT apart. A key-binding JWT is refused: these credentials bind
    no holder key (the citizen has no wallet), so one can only have been added."""
    pieces = presentation.strip().split(SEPARATOR)
    if len(pieces) < 2 or pieces[0].count(".") != 2:
        raise MalformedSdJwt("not a compact SD-JWT")
    if pieces[-1]:
        raise MalformedSdJwt("unexpected key-binding JWT")
    disclosures = pieces[1:-1]
    if any(not piece for piece in disclosures):
        raise MalformedSdJwt("empty disclosure")
    return Parts(pieces[0], disclosures)


def open_disclosure(disclosure: str) -> tuple[str, object]:
    """(claim name, value) of an object-property disclosure, checked against the rules."""
    try:
        content = json.loads(b64url_decode(disclosure).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedSdJwt("disclosure is not JSON") from exc
    if not (isinstance(content, list) and len(content) == 3
            and isinstance(content[0], str) and isinstance(content[1], str)):
        raise MalformedSdJwt("disclosure is not [salt, name, value]")
    _salt, name, value = content
    if name in RESERVED:
        raise MalformedSdJwt(f"disclosure of the reserved claim {name!r}")
    return name, value


def disclosed_claims(payload: dict, disclosures: list[str]) -> dict:
    """The claims the disclosures reveal, each one proven by a digest in the signed
    payload's `_sd`. An added or altered disclosure has no digest there and is refused
    (RFC 9901 §7.1); so is a disclosure given twice or a claim named twice."""
    if payload.get("_sd_alg", SD_ALG) != SD_ALG:
        raise MalformedSdJwt("unsupported _sd_alg")
    listed = payload.get("_sd", [])
    if not isinstance(listed, list) or len(set(listed)) != len(listed):
        raise MalformedSdJwt("_sd is not a list of distinct digests")
    claims: dict = {}
    seen: set[str] = set()
    for disclosure in disclosures:
        hashed = digest(disclosure)
        if hashed not in listed:
            raise MalformedSdJwt("disclosure not covered by the signature")
        if hashed in seen:
            raise MalformedSdJwt("disclosure given twice")
        seen.add(hashed)
        name, value = open_disclosure(disclosure)
        if name in claims or name in payload:
            raise MalformedSdJwt(f"claim {name!r} disclosed twice")
        claims[name] = value
    return claims
