"""Deleting refresh tokens whose family has ended.

Every rotation adds a row and keeps the one it replaced: a rotated token must stay
recognisable until its family ends, so that presenting it again revokes the family
(OAuth 2.0 Security BCP §4.14). Once the family's absolute end (`expires_at`, carried
across rotations) has passed, none of its tokens can be used or reused to any effect, and
the rows only make the table grow. `idp tokens purge` removes them in small batches, so
that it never holds long locks on a busy primary.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from sqlalchemy import bindparam, delete, select
from sqlalchemy.engine import Engine

from idp.store.models import RefreshToken

MARGIN_SECONDS = 3600
"""Rows are kept this long past their family's end (clocks of nodes differ a little)."""

_tokens = RefreshToken.__table__
_DELETE_BATCH = delete(_tokens).where(_tokens.c.id.in_(
    select(_tokens.c.id)
    .where(_tokens.c.expires_at < bindparam("before"))
    .limit(bindparam("batch"))
    .scalar_subquery()
))


def purge_ended_refresh_tokens(engine: Engine, *, batch: int = 5000,
                               now: float | None = None) -> Iterator[int]:
    """Delete the rows of families that ended more than MARGIN_SECONDS ago, `batch` rows
    per transaction; yields the number deleted by each transaction (for progress)."""
    before = (time.time() if now is None else now) - MARGIN_SECONDS
    while True:
        with engine.begin() as connection:
            deleted = connection.execute(_DELETE_BATCH, {"before": before, "batch": batch}).rowcount
        yield deleted
        if deleted < batch:
            return
