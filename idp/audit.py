"""Append-only audit trail of security events (DESIGN §7), hash-chained.

Each row stores the SHA-256 of the previous row's hash and its own content,
so editing or deleting any row breaks the chain (`idp audit verify`). Rows are
written in their own transaction, so a failure that rolls back the business
change still leaves its trace.

Appends to one chain are serialised (an advisory lock per chain on PostgreSQL,
SQLite's single writer there), so one chain would cap the whole cluster at one
append per commit. Rows are therefore spread over `[audit] chains` independent
chains, each linked through its own rows; verification follows every chain.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace

from flask import has_request_context, request
from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from idp.audit_retention import seal_key, trusted_links
from idp.config import RetentionSettings
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
    """The hash of a row given its predecessor's hash in its chain (canonical JSON of every
    field)."""
    content = {
        "id": row.id, "at": _utc_naive(row.at).isoformat(), "event": row.event,
        "result": row.result, "account_id": row.account_id, "client_id": row.client_id,
        "actor": row.actor, "actor_role": row.actor_role, "ip": row.ip,
        "user_agent": row.user_agent, "detail": row.detail or {},
    }
    if row.chain:
        # Rows of chain 0 keep the form they were sealed with before there were chains.
        content["chain"] = row.chain
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}|{canonical}".encode()).hexdigest()


_events = AuditEvent.__table__
# Built once (see idp/oidc/grants.py): a login appends several events.
_LOCK_CHAIN = text("SELECT pg_advisory_xact_lock(:key, :chain)")
_HEAD = (
    select(_events.c.row_hash)
    .where(_events.c.chain == bindparam("chain"))
    .order_by(_events.c.id.desc())
    .limit(1)
)
# PostgreSQL: under the chain's lock, read the head and take the next id in one round
# trip, then write the row sealed (one INSERT, no second version of the row).
_HEAD_AND_NEXT_ID = select(
    _HEAD.scalar_subquery(),
    text("nextval(pg_get_serial_sequence('audit_events', 'id'))"),
)
_INSERT_EVENT = insert(_events)
# SQLite: the insert comes first (it takes the write lock before the head is read), then
# the row is sealed.
_INSERT_UNSEALED = insert(_events).returning(_events.c.id)
_HEAD_BEFORE = _HEAD.where(_events.c.id < bindparam("row_id"))
_SEAL_EVENT = (
    update(_events)
    .where(_events.c.id == bindparam("row_id"))
    .values(prev_hash=bindparam("prev"), row_hash=bindparam("hash"))
)


def append_event(connection: Connection, values: dict, chains: int) -> int:
    """Chain and insert one event, on one of `chains` chains picked at random, inside the
    caller's transaction (which must commit it); `values` are the AuditEvent columns but
    id, chain and the hashes. Returns the new id."""
    chain = random.randrange(chains)  # noqa: S311 - spreads load; nothing secret
    values = {**values, "chain": chain}
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK_CHAIN, {"key": AUDIT_LOCK, "chain": chain})
        prev, row_id = connection.execute(_HEAD_AND_NEXT_ID, {"chain": chain}).one()
        prev = prev or ""
        digest = row_digest(SimpleNamespace(id=row_id, **values), prev)
        connection.execute(_INSERT_EVENT, {**values, "id": row_id, "prev_hash": prev,
                                           "row_hash": digest})
        return row_id
    row_id = connection.execute(
        _INSERT_UNSEALED, {**values, "prev_hash": "", "row_hash": ""}).scalar_one()
    prev = connection.execute(_HEAD_BEFORE, {"chain": chain, "row_id": row_id}).scalar() or ""
    digest = row_digest(SimpleNamespace(id=row_id, **values), prev)
    connection.execute(_SEAL_EVENT, {"row_id": row_id, "prev": prev, "hash": digest})
    return row_id


def record_operator_event(connection: Connection, chains: int, event: str, **detail) -> int:
    """An operator's `idp` command in the audit trail, inside the command's own transaction:
    the change and its record commit together, or neither does."""
    values = {"at": datetime.now(UTC), "event": event, "result": "success", "account_id": None,
              "client_id": None, "actor": "operator:cli", "actor_role": None, "ip": None,
              "user_agent": None, "detail": detail}
    return append_event(connection, values, chains)


def record_event(
    event: str,
    result: str,
    *,
    account_id: int | None = None,
    client_id: str | None = None,
    actor: str | None = None,
    actor_role: str | None = None,
    **detail,
) -> int:
    """Append one event; returns its id. `detail` must never hold a password, OTP, token or
    full CCCD."""
    ip = user_agent = None
    if has_request_context():
        ip = request.remote_addr
        user_agent = (request.user_agent.string or "")[:300]
    values = {
        "at": datetime.now(UTC), "event": event, "result": result, "account_id": account_id,
        "client_id": client_id, "actor": actor, "actor_role": actor_role, "ip": ip,
        "user_agent": user_agent, "detail": detail,
    }
    p = provider()
    with p.db.engine.begin() as connection:
        row_id = append_event(connection, values, p.settings.audit.chains)
    count_event(event, result)
    log.info("%s %s account=%s client=%s actor=%s", event, result, account_id, client_id, actor)
    return row_id


@dataclass
class ChainReport:
    rows: int
    heads: dict[int, str]
    """The last hash of each chain (what an operator records to notice a cut-off tail)."""
    broken_at: int | None
    """The id of the first row whose hash or link does not hold (None when intact)."""
    reason: str = ""
    after_id: int = 0
    """Only rows after this id were checked (0: the whole log)."""
    checkpoints: int = 0
    """Sealed checkpoints of purges (idp.audit_retention) the check relied on."""


def verify_chain(session: Session, *, after_id: int = 0, batch: int = 5000,
                 on_progress: Callable[[int, int], None] | None = None,
                 progress_every: int = 100_000, secret_key: str | None = None) -> ChainReport:
    """Recompute every hash in id order, each row against the previous row of its chain;
    report the first row that does not fit. With `after_id`, only the rows after it: the
    first of them in each chain is taken as linked to whatever it names (its own hash is
    still checked), so edits inside the window are found and edits before it are not.
    Where a purge deleted a row's predecessor, the link is checked against the purge's
    sealed checkpoint instead (`secret_key`: the server's, which the seals derive from).
    `on_progress(rows, last_id)` is called every `progress_every` rows."""
    trusted = trusted_links(session, seal_key(secret_key) if secret_key else None)
    if trusted.broken:
        return ChainReport(0, {}, 0, trusted.broken, after_id, trusted.checkpoints)
    heads: dict[int, str] = {}
    head_ids: dict[int, int] = {}
    count = 0
    for row in _rows(session, batch, after_id):
        prev = heads.get(row.chain, row.prev_hash if after_id else "")
        link = trusted.links.get(row.id)
        if row.prev_hash != prev and (link is None or link[0] != row.prev_hash or (
                (not after_id or row.chain in head_ids)
                and head_ids.get(row.chain, 0) != link[1])):
            return ChainReport(count, heads, row.id, "liên kết tới dòng trước bị sai "
                               "(một dòng trước đó đã bị xóa hoặc sửa)", after_id,
                               trusted.checkpoints)
        if row.row_hash != row_digest(row, row.prev_hash):
            return ChainReport(count, heads, row.id, "nội dung dòng đã bị sửa", after_id,
                               trusted.checkpoints)
        heads[row.chain] = row.row_hash
        head_ids[row.chain] = row.id
        count += 1
        if on_progress is not None and count % progress_every == 0:
            on_progress(count, row.id)
    return ChainReport(count, heads, None, after_id=after_id, checkpoints=trusted.checkpoints)


def recent_window(session: Session, rows: int) -> int:
    """The `after_id` that leaves about the last `rows` rows (ids have gaps: at most that)."""
    last = session.scalar(select(func.max(AuditEvent.id))) or 0
    return max(0, last - rows)


_NEXT_ROWS = (select(_events).where(_events.c.id > bindparam("last"))
              .order_by(_events.c.id).limit(bindparam("batch")))


def _rows(session: Session, batch: int, after_id: int) -> Iterator:
    """Plain rows (not ORM objects: nothing is changed, and verifying reads every row)."""
    last = after_id
    while True:
        rows = session.execute(_NEXT_ROWS, {"last": last, "batch": batch}).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def record_purge(engine: Engine, chains: int, deleted: int,
                 retention: RetentionSettings) -> None:
    """The purge's own audit row (the operator's command, like any change to the log)."""
    with engine.begin() as connection:
        append_event(connection, {
            "at": datetime.now(UTC), "event": "audit.purge", "result": "success",
            "account_id": None, "client_id": None, "actor": "operator:cli",
            "actor_role": None, "ip": None, "user_agent": None,
            "detail": {"deleted": deleted, "access_history_days": retention.access_history_days,
                       "audit_days": retention.audit_days},
        }, chains)
