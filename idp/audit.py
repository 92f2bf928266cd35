"""Append-only audit trail of security events (DESIGN §7), hash-chained.

Each row stores the SHA-256 of the previous row's hash and its own content,
so editing or deleting any row breaks the chain (`idp audit verify`). Rows are
written in their own transaction, so a failure that rolls back the business
change still leaves its trace. Appends are serialised: by an advisory lock on
PostgreSQL, by SQLite's single writer (the insert comes first) on SQLite.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace

from flask import has_request_context, request
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from idp.ops.metrics import count_event
from idp.provider import provider
from idp.store.models import AuditEvent

log = logging.getLogger("idp.audit")
AUDIT_LOCK = 0x1D9A0D17  # arbitrary constant naming the advisory lock of the chain


def _utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def row_digest(row: AuditEvent, prev_hash: str) -> str:
    """The hash of a row given its predecessor's hash (canonical JSON of every field)."""
    content = {
        "id": row.id, "at": _utc_naive(row.at).isoformat(), "event": row.event,
        "result": row.result, "account_id": row.account_id, "client_id": row.client_id,
        "actor": row.actor, "actor_role": row.actor_role, "ip": row.ip,
        "user_agent": row.user_agent, "detail": row.detail or {},
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}|{canonical}".encode()).hexdigest()


_events = AuditEvent.__table__
# Built once (see idp/oidc/grants.py): a login appends several events.
_LOCK_CHAIN = text("SELECT pg_advisory_xact_lock(:key)")
_INSERT_EVENT = insert(_events).returning(_events.c.id)
_PREVIOUS_HASH = (
    select(_events.c.row_hash)
    .where(_events.c.id < bindparam("row_id"))
    .order_by(_events.c.id.desc())
    .limit(1)
)
_SEAL_EVENT = (
    update(_events)
    .where(_events.c.id == bindparam("row_id"))
    .values(prev_hash=bindparam("prev"), row_hash=bindparam("hash"))
)


def append_event(connection: Connection, values: dict) -> int:
    """Chain and insert one event inside the caller's transaction (which must commit it);
    `values` are the AuditEvent columns but id and the hashes. Returns the new id."""
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK_CHAIN, {"key": AUDIT_LOCK})
    # The insert comes first: on SQLite it takes the write lock before the predecessor is read.
    unsealed = {**values, "prev_hash": "", "row_hash": ""}
    row_id = connection.execute(_INSERT_EVENT, unsealed).scalar_one()
    prev = connection.execute(_PREVIOUS_HASH, {"row_id": row_id}).scalar() or ""
    digest = row_digest(SimpleNamespace(id=row_id, **values), prev)
    connection.execute(_SEAL_EVENT, {"row_id": row_id, "prev": prev, "hash": digest})
    return row_id


def record_event(
    event: str,
    result: str,
    *,
    account_id: int | None = None,
    client_id: str | None = None,
    actor: str | None = None,
    actor_role: str | None = None,
    **detail,
) -> None:
    """Append one event; `detail` must never hold a password, OTP, token or full CCCD."""
    ip = user_agent = None
    if has_request_context():
        ip = request.remote_addr
        user_agent = (request.user_agent.string or "")[:300]
    values = {
        "at": datetime.now(UTC), "event": event, "result": result, "account_id": account_id,
        "client_id": client_id, "actor": actor, "actor_role": actor_role, "ip": ip,
        "user_agent": user_agent, "detail": detail,
    }
    with provider().db.engine.begin() as connection:
        append_event(connection, values)
    count_event(event, result)
    log.info("%s %s account=%s client=%s actor=%s", event, result, account_id, client_id, actor)


@dataclass
class ChainReport:
    rows: int
    head: str
    broken_at: int | None
    """The id of the first row whose hash or link does not hold (None when intact)."""
    reason: str = ""


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Recompute every hash in id order; report the first row that does not fit."""
    prev, count = "", 0
    for row in _rows(session, batch):
        if row.prev_hash != prev:
            return ChainReport(count, prev, row.id, "liên kết tới dòng trước bị sai "
                               "(một dòng trước đó đã bị xóa hoặc sửa)")
        if row.row_hash != row_digest(row, prev):
            return ChainReport(count, prev, row.id, "nội dung dòng đã bị sửa")
        prev, count = row.row_hash, count + 1
    return ChainReport(count, prev, None)


def _rows(session: Session, batch: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        session.expunge_all()
