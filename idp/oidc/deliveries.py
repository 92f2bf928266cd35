"""The back-channel logout queue: one database row per logout token owed to a portal.

Only SQL here; sending is idp/oidc/backchannel.py. A row is `pending` until the portal
has it (then it is deleted) or until it is given up (then `failed`, listed for the
operator until [logout] backchannel_keep_failed passes). Any node may claim a due row:
claiming pushes `next_attempt_at` forward by a lease, so two nodes never try the same row
at once, and a node that dies mid-attempt only delays it by the lease.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine, Row

from idp.store.models import BackchannelDelivery

PENDING, FAILED = "pending", "failed"
_t = BackchannelDelivery.__table__
_CLAIMED = (_t.c.id, _t.c.client_id, _t.c.account_id, _t.c.jti, _t.c.subject, _t.c.sid,
            _t.c.attempts, _t.c.give_up_at)
"""What an attempt needs of a row (see `enqueue` and `claim_due`)."""


def enqueue(engine: Engine, owed: list[dict], give_up_after: float, lease: float) -> list[Row]:
    """Store deliveries (client_id, account_id, jti, subject, sid each), committed before
    anything is sent, leased to the caller for its first attempt; returns the claimed rows."""
    now = time.time()
    rows = [{**delivery, "state": PENDING, "attempts": 0, "created_at": now,
             "next_attempt_at": now + lease, "give_up_at": now + give_up_after}
            for delivery in owed]
    with engine.begin() as connection:
        return connection.execute(insert(_t).returning(*_CLAIMED), rows).all()


def claim_due(engine: Engine, limit: int, lease: float) -> list[Row]:
    """Take up to `limit` pending rows whose time has come, leased for `lease` seconds;
    rows another node is claiming at the same moment are skipped, not waited for."""
    now = time.time()
    due = (select(_t.c.id)
           .where(_t.c.state == PENDING, _t.c.next_attempt_at <= now)
           .order_by(_t.c.next_attempt_at).limit(limit)
           .with_for_update(skip_locked=True))
    claim = (update(_t)
             # Checked again on the row itself: a concurrent claim that won makes it false.
             .where(_t.c.id.in_(due.scalar_subquery()), _t.c.state == PENDING,
                    _t.c.next_attempt_at <= now)
             .values(next_attempt_at=now + lease)
             .returning(*_CLAIMED))
    with engine.begin() as connection:
        return connection.execute(claim).all()


def delivered(engine: Engine, delivery_id: int) -> None:
    """The portal has it: the row goes (the audit trail keeps the fact)."""
    with engine.begin() as connection:
        connection.execute(delete(_t).where(_t.c.id == delivery_id))


def attempt_failed(engine: Engine, delivery_id: int, attempts: int, error: str,
                   retry_at: float | None) -> None:
    """Record a failed attempt: try again at `retry_at`, or give up when it is None."""
    values = {"attempts": attempts, "last_error": error[:200]}
    if retry_at is None:
        values["state"] = FAILED
    else:
        values["next_attempt_at"] = retry_at
    with engine.begin() as connection:
        connection.execute(update(_t).where(_t.c.id == delivery_id).values(**values))


def postpone(engine: Engine, delivery_ids: list[int], until: float) -> None:
    """Put off claimed rows without trying them (their portal has just failed)."""
    if not delivery_ids:
        return
    with engine.begin() as connection:
        connection.execute(update(_t).where(_t.c.id.in_(delivery_ids))
                           .values(next_attempt_at=until))


def retry_failed(engine: Engine, client_id: str, give_up_after: float) -> int:
    """Queue a portal's given-up deliveries again (once the portal is fixed); returns how
    many."""
    now = time.time()
    with engine.begin() as connection:
        return connection.execute(
            update(_t).where(_t.c.client_id == client_id, _t.c.state == FAILED)
            .values(state=PENDING, attempts=0, next_attempt_at=now,
                    give_up_at=now + give_up_after)).rowcount


def purge_failed(engine: Engine, given_up_before: float) -> int:
    """Delete failed rows given up before `given_up_before`; returns how many."""
    with engine.begin() as connection:
        return connection.execute(delete(_t).where(
            _t.c.state == FAILED, _t.c.give_up_at < given_up_before)).rowcount


@dataclass(frozen=True)
class PortalBacklog:
    """What one portal is still owed."""

    client_id: str
    pending: int
    failed: int
    oldest: float
    """When the oldest delivery still owed to it was made (epoch seconds)."""
    last_error: str | None


def backlog(engine: Engine) -> list[PortalBacklog]:
    """Every portal with deliveries pending or failed, by client id."""
    counts = (select(_t.c.client_id, _t.c.state, func.count(), func.min(_t.c.created_at))
              .group_by(_t.c.client_id, _t.c.state))
    latest = select(func.max(_t.c.id)).where(_t.c.last_error.is_not(None)).group_by(
        _t.c.client_id)
    errors = select(_t.c.client_id, _t.c.last_error).where(_t.c.id.in_(latest))
    with engine.connect() as connection:
        rows = connection.execute(counts).all()
        last_errors = dict(connection.execute(errors).all())
    portals: dict[str, dict] = {}
    for client_id, state, count, oldest in rows:
        entry = portals.setdefault(client_id, {"pending": 0, "failed": 0, "oldest": oldest})
        entry[state] = count
        entry["oldest"] = min(entry["oldest"], oldest)
    return [PortalBacklog(client_id, e["pending"], e["failed"], e["oldest"],
                          last_errors.get(client_id))
            for client_id, e in sorted(portals.items())]
