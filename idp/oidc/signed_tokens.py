"""The JWTs this provider signs: access tokens (RFC 9068), ID tokens, logout tokens.

Access tokens are signed with ES256 (the provider's choice: 20 µs to sign);
ID tokens with the client's registered algorithm (RS256 by default, as OIDC
says). Verification of our own tokens accepts only our published keys and
only RS256/ES256: never `none`, never a key named in the token's header.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from idp.provider import provider

ALGORITHMS = ["RS256", "ES256"]
ACCESS_TOKEN_ALG = "ES256"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class InvalidToken(Exception):
    """A token that we did not sign, that expired, or that is malformed."""


def _sign(claims: dict, alg: str, typ: str) -> str:
    kid, key = provider().keys.signing_key(alg)
    return jwt.encode({"alg": alg, "kid": kid, "typ": typ}, claims, key, algorithms=[alg])


def at_hash(access_token: str, alg: str) -> str:
    """OIDC Core §3.1.3.6: left half of the SHA-256 of the access token (both algs use SHA-256)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


@dataclass
class AccessTokenGrant:
    """What an access token says: who, for which client, how authenticated."""

    sub: str
    client_id: str
    scope: str
    auth_time: int
    acr: str
    amr: list[str]
    sid: str | None
    grant_id: str
    account_ref: str
    jkt: str | None = None
    """Thumbprint of the DPoP key the token is bound to (RFC 9449 §6.1), if any."""
    userinfo_claims: dict | None = None
    """What userinfo releases beyond the scopes (the `claims` parameter, OIDC Core §5.5)."""


def issue_access_token(grant: AccessTokenGrant) -> tuple[str, int]:
    """A signed RFC 9068 access token and its lifetime in seconds."""
    p = provider()
    ttl = p.settings.tokens.access_token_ttl
    now = int(time.time())
    claims = {
        "iss": p.issuer,
        "sub": grant.sub,
        "aud": grant.client_id,
        "client_id": grant.client_id,
        "iat": now,
        "exp": now + ttl,
        "jti": secrets.token_urlsafe(16),
        "scope": grant.scope,
        "auth_time": grant.auth_time,
        "acr": grant.acr,
        "amr": grant.amr,
        "gid": grant.grant_id,
        "ref": grant.account_ref,
    }
    if grant.sid:
        claims["sid"] = grant.sid
    if grant.jkt:
        claims["cnf"] = {"jkt": grant.jkt}
    if grant.userinfo_claims:
        claims["uc"] = grant.userinfo_claims
    return _sign(claims, ACCESS_TOKEN_ALG, "at+jwt"), ttl


def issue_id_token(claims: dict, alg: str) -> str:
    """An ID token with iss/iat/exp added to `claims`."""
    p = provider()
    now = int(time.time())
    claims = {"iss": p.issuer, "iat": now, "exp": now + p.settings.tokens.id_token_ttl, **claims}
    return _sign(claims, alg, "JWT")


def issue_logout_token(client_id: str, sub: str, sid: str, alg: str, jti: str) -> str:
    """A back-channel logout token (OIDC Back-Channel Logout 1.0 §2.4); every attempt of one
    delivery signs a fresh one (a current `exp`) with the delivery's `jti`."""
    p = provider()
    now = int(time.time())
    claims = {
        "iss": p.issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + 120,
        "jti": jti,
        "sub": sub,
        "sid": sid,
        "events": {BACKCHANNEL_EVENT: {}},
    }
    return _sign(claims, alg, "logout+jwt")


def header_type(token: str) -> str | None:
    """The `typ` of a compact JWS header, without verifying anything (None if unreadable)."""
    try:
        segment = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        return header.get("typ") if isinstance(header, dict) else None
    except (ValueError, UnicodeDecodeError):
        return None


def decode_own_token(token: str, *, typ: str | None, verify_exp: bool = True) -> dict:
    """Claims of a token this provider signed; raises InvalidToken otherwise."""
    p = provider()
    if not token or len(token) > 8192:
        raise InvalidToken("empty or oversized token")
    try:
        decoded = jwt.decode(token, p.keys.verification_keys(), algorithms=ALGORITHMS)
    except (JoseError, ValueError) as exc:
        raise InvalidToken(str(exc)) from exc
    header = decoded.header
    if typ is not None and header.get("typ") != typ:
        raise InvalidToken("unexpected token type")
    claims = decoded.claims
    registry = JWTClaimsRegistry(leeway=30, iss={"essential": True, "value": p.issuer})
    if not verify_exp:
        registry.validate_exp = lambda value: None
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise InvalidToken(str(exc)) from exc
    return claims
