"""Looking up tokens this provider issued, for userinfo, introspection and revocation."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select

from idp.oidc.grants import digest
from idp.oidc.signed_tokens import InvalidToken, decode_own_token
from idp.oidc.subject import account_id_from_ref
from idp.provider import provider
from idp.store.models import Account, Client, RefreshToken


@dataclass
class IssuedToken:
    """An access token (its claims) or a refresh token (its row), as RFC 7662/7009 see it."""

    kind: str
    client_id: str
    scope: str
    grant_id: str
    expires_at: float
    issued_at: float
    claims: dict | None = None
    row: RefreshToken | None = None

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def is_expired(self) -> bool:
        return self.expires_at <= time.time()

    def is_revoked(self) -> bool:
        if self.row is not None:
            return self.row.revoked_at is not None or self.row.rotated_at is not None
        return not access_token_live(self.claims)


def access_token_live(claims: dict) -> bool:
    """False when the token or its grant was revoked since it was signed."""
    # Both markers in one round trip (one SELECT … IN, or one Redis MGET).
    markers = provider().state.get_many(
        [f"revoked-grant:{claims['gid']}", f"revoked-at:{claims['jti']}"]
    )
    return all(marker is None for marker in markers)


def find_token(token: str, hint: str | None = None) -> IssuedToken | None:
    """The token this string is, whatever its kind (the hint only orders the search)."""
    if not token or len(token) > 8192:
        return None
    if token.count(".") == 2:
        try:
            claims = decode_own_token(token, typ="at+jwt", verify_exp=False)
        except InvalidToken:
            return None
        return IssuedToken(
            kind="access_token",
            client_id=claims["client_id"],
            scope=claims.get("scope", ""),
            grant_id=claims["gid"],
            expires_at=claims["exp"],
            issued_at=claims["iat"],
            claims=claims,
        )
    row = provider().db.session.scalar(
        select(RefreshToken).where(RefreshToken.token_digest == digest(token))
    )
    if row is None:
        return None
    return IssuedToken(
        kind="refresh_token",
        client_id=row.client_id,
        scope=row.scope,
        grant_id=row.family_id,
        expires_at=row.expires_at,
        issued_at=row.issued_at,
        row=row,
    )


def token_account(token: IssuedToken) -> Account | None:
    """The account a token was issued for."""
    if token.row is not None:
        account_id = token.row.account_id
    else:
        account_id = account_id_from_ref(token.claims.get("ref", ""))
    return provider().db.session.get(Account, account_id) if account_id else None
