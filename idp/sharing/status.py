"""Revocation of shares through status lists: entries drawn for new shares, the signed
Status List Tokens verifiers download, and the provider's own lookup of one entry.

A share's entry is drawn at random (not the next free one), so its position says nothing
about when it was made or about the citizen's other shares.
"""

from __future__ import annotations

import secrets
import time

from joserfc import jwt
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from idp.params import ID_MAX, parse_number
from idp.provider import provider
from idp.sharing import statuslist
from idp.sharing.credential import SIGNING_ALG, status_list_uri
from idp.store.models import IdentityShare

MAX_LIST_ID = 1_000_000
TOKEN_LIFETIME_MARGIN = 300
"""A Status List Token stays valid this long past its `ttl`, for verifiers' clocks."""


def draw_entry(session: Session) -> tuple[int, int]:
    """(list, index) for a new share: a random entry of the first list less than half
    full. Two shares can draw the same entry at once; the unique constraint refuses the
    second, whose caller draws again."""
    size = provider().settings.sharing.status_list_size
    used = dict(session.execute(
        select(IdentityShare.status_list, func.count()).group_by(IdentityShare.status_list)
    ).all())
    list_id = 1
    while used.get(list_id, 0) >= size // 2:
        list_id += 1
    while True:
        index = secrets.randbelow(size)
        taken = session.scalar(select(exists().where(
            IdentityShare.status_list == list_id, IdentityShare.status_index == index)))
        if not taken:  # at most half the entries are taken: ends after ~2 draws
            return list_id, index


def status_list_token(list_id: int) -> str:
    """The signed Status List Token of list `list_id` (draft-ietf-oauth-status-list §5)."""
    p = provider()
    sharing = p.settings.sharing
    revoked = p.db.session.scalars(select(IdentityShare.status_index).where(
        IdentityShare.status_list == list_id, IdentityShare.revoked_at.is_not(None)))
    now = int(time.time())
    claims = {
        "sub": status_list_uri(p.issuer, list_id),
        "iat": now,
        "exp": now + sharing.status_list_ttl + TOKEN_LIFETIME_MARGIN,
        "ttl": sharing.status_list_ttl,
        "status_list": statuslist.encode(sharing.status_list_size, revoked),
    }
    kid, key = p.keys.signing_key(SIGNING_ALG)
    return jwt.encode({"alg": SIGNING_ALG, "kid": kid, "typ": statuslist.TOKEN_TYPE}, claims,
                      key, algorithms=[SIGNING_ALG])


def local_status(uri: str, index: int) -> int:
    """The status of one entry read from the database: how the provider's own verifier
    checks what the published list would say, without a trip over HTTP."""
    prefix = status_list_uri(provider().issuer, 0)[:-1]
    number = uri.removeprefix(prefix)
    list_number = parse_number(number, maximum=ID_MAX) if uri.startswith(prefix) else None
    if list_number is None:
        raise statuslist.MalformedStatusList("not one of this provider's status lists")
    revoked = provider().db.session.scalar(select(exists().where(
        IdentityShare.status_list == list_number, IdentityShare.status_index == index,
        IdentityShare.revoked_at.is_not(None))))
    return statuslist.INVALID if revoked else statuslist.VALID
