"""Rows the account service tests start from."""

from __future__ import annotations

import time

from sqlalchemy import select

from idp.store.models import Account, RefreshToken


def refresh_token(provider, account: Account, family: str, client_id: str = "portal-a", *,
                  revoked: bool = False) -> None:
    """A refresh token of `family`, issued to `client_id` for `account`."""
    now = time.time()
    provider.db.session.add(RefreshToken(
        token_digest=f"{family}-{account.id}".ljust(64, "0"), family_id=family,
        client_id=client_id, account_id=account.id, scope="openid", auth_time=int(now),
        acr="urn:vn:sso:loa:2", amr=["pwd"], issued_at=now, expires_at=now + 3600,
        revoked_at=now if revoked else None))
    provider.db.session.commit()


def live_families(provider) -> list[str]:
    """The refresh-token families not revoked, in order."""
    return list(provider.db.session.scalars(
        select(RefreshToken.family_id).where(RefreshToken.revoked_at.is_(None))
        .order_by(RefreshToken.family_id)))
