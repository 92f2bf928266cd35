"""Deleting audit rows past their retention, with the hash chains still verifiable.

Two ages (RetentionSettings): the access history (logins, their failed steps, logouts,
OTP sends, QR-share reads: most of the log) goes first; every other row later. So the
purge deletes rows in the middle of a chain too, not only a prefix.

The rows are walked in id order, one batch per transaction. When a row is kept but its
predecessor in its chain was deleted, its `prev_hash` can no longer be checked against
that predecessor: the batch records it as a link (AuditLink: this row links to this
hash) and seals the batch's links in a checkpoint (AuditCheckpoint). A checkpoint's seal
is an HMAC with a key derived from the server's secret key, which the database does not
hold, over its fields, its links and the previous checkpoint's seal. `verify_chain`
accepts a broken link only where a checkpoint with a valid seal vouches for exactly that
hash and for the row now before it in its chain (so deleting a kept row is still found);
editing or deleting a checkpoint or a link, or adding one, breaks verification.

Changing the server's secret key makes earlier checkpoints unverifiable: keep the old
key's checkpoints verified (and their heads recorded) before rotating it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from idp.store.models import AuditCheckpoint, AuditEvent, AuditLink

ACCESS_EVENTS = frozenset({
    "login", "login.sso", "login.password", "login.otp", "login.totp", "logout",
    "otp.send", "share.read", "notice.new_browser",
})
"""The access history and what comes with every login: kept `access_history_days`."""

_events = AuditEvent.__table__
_links = AuditLink.__table__
_checkpoints = AuditCheckpoint.__table__


def seal_key(secret_key: str) -> bytes:
    """The checkpoints' HMAC key, derived from (and never equal to) the server's key."""
    return hashlib.sha256(b"audit-checkpoint:" + secret_key.encode()).digest()


Link = tuple[str, int]
"""What a checkpoint vouches for a row: the hash it links to, the row now before it."""


def links_digest(links: dict[int, Link]) -> str:
    lines = "\n".join(f"{row_id}:{links[row_id][0]}:{links[row_id][1]}"
                      for row_id in sorted(links))
    return hashlib.sha256(lines.encode()).hexdigest()


def checkpoint_seal(key: bytes, checkpoint) -> str:
    """The HMAC over a checkpoint's fields (its links through `links_digest`)."""
    content = json.dumps({
        "id": checkpoint.id, "through_id": checkpoint.through_id,
        "rows_purged": checkpoint.rows_purged, "links_digest": checkpoint.links_digest,
        "prev_seal": checkpoint.prev_seal,
    }, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, content.encode(), hashlib.sha256).hexdigest()


@dataclass
class TrustedLinks:
    """What the checkpoints vouch for, or why they cannot be trusted."""

    links: dict[int, Link]
    checkpoints: int
    broken: str = ""


def trusted_links(session: Session, key: bytes | None) -> TrustedLinks:
    """Check every checkpoint (seal, links, the chain of seals) and return the links they
    vouch for (a later checkpoint's link of a row replaces an earlier one)."""
    checkpoints = session.execute(select(_checkpoints).order_by(_checkpoints.c.id)).all()
    if not checkpoints:
        return TrustedLinks({}, 0)
    if key is None:
        return TrustedLinks({}, len(checkpoints), "thiếu khóa để kiểm tra điểm niêm phong")
    by_checkpoint: dict[int, dict[int, Link]] = {}
    for link in session.execute(select(_links)):
        by_checkpoint.setdefault(link.checkpoint_id, {})[link.row_id] = (
            link.prev_hash, link.prev_kept_id)
    trusted: dict[int, Link] = {}
    prev_seal = ""
    for checkpoint in checkpoints:
        links = by_checkpoint.pop(checkpoint.id, {})
        if (checkpoint.prev_seal != prev_seal
                or not hmac.compare_digest(checkpoint.seal, checkpoint_seal(key, checkpoint))):
            return TrustedLinks({}, len(checkpoints), f"điểm niêm phong số {checkpoint.id} bị "
                                "sửa, giả mạo hoặc một điểm trước nó bị xóa")
        if links_digest(links) != checkpoint.links_digest:
            return TrustedLinks({}, len(checkpoints), f"các liên kết của điểm niêm phong số "
                                f"{checkpoint.id} bị sửa")
        trusted.update(links)
        prev_seal = checkpoint.seal
    if by_checkpoint:
        return TrustedLinks({}, len(checkpoints), "có liên kết không thuộc điểm niêm phong nào")
    return TrustedLinks(trusted, len(checkpoints))


@dataclass
class PurgeBatch:
    looked_at: int
    deleted: int
    through_id: int


def _seal_batch(connection: Connection, key: bytes, through_id: int, deleted: int,
                links: dict[int, Link]) -> None:
    last = connection.execute(select(_checkpoints.c.id, _checkpoints.c.seal)
                              .order_by(_checkpoints.c.id.desc()).limit(1)).first()
    values = {"id": (last.id + 1) if last else 1, "at": datetime.now(UTC),
              "through_id": through_id, "rows_purged": deleted,
              "links_digest": links_digest(links), "prev_seal": last.seal if last else ""}
    values["seal"] = checkpoint_seal(key, SimpleNamespace(**values))
    connection.execute(insert(_checkpoints).values(values))
    if links:
        connection.execute(insert(_links), [
            {"row_id": row_id, "checkpoint_id": values["id"], "prev_hash": prev_hash,
             "prev_kept_id": prev_kept} for row_id, (prev_hash, prev_kept) in links.items()])


def purge_audit(engine: Engine, secret_key: str, *, access_days: int, audit_days: int,
                batch: int = 5000, now: datetime | None = None) -> Iterator[PurgeBatch]:
    """Delete access rows older than `access_days` and every row older than `audit_days`,
    `batch` rows looked at per transaction, each sealed by its checkpoint; yields each
    batch (for progress)."""
    now = now or datetime.now(UTC)
    access_cutoff = (now - timedelta(days=access_days)).replace(tzinfo=None)
    audit_cutoff = (now - timedelta(days=audit_days)).replace(tzinfo=None)
    key = seal_key(secret_key)
    predecessor_deleted: dict[int, bool] = {}
    last_kept: dict[int, int] = {}  # per chain, the last row seen that stays
    after = 0
    while True:
        with engine.begin() as connection:
            rows = connection.execute(
                select(_events.c.id, _events.c.chain, _events.c.event, _events.c.at,
                       _events.c.prev_hash)
                .where(_events.c.id > after).order_by(_events.c.id).limit(batch)).all()
            old = []
            for row in rows:  # rows come in time order, near enough: stop at the first young one
                if _naive(row.at) >= access_cutoff:
                    break
                old.append(row)
            if not old:
                return
            doomed: list[int] = []
            links: dict[int, Link] = {}
            for row in old:
                at = _naive(row.at)
                if at < audit_cutoff or row.event in ACCESS_EVENTS:
                    doomed.append(row.id)
                    predecessor_deleted[row.chain] = True
                    continue
                if predecessor_deleted.get(row.chain):
                    links[row.id] = (row.prev_hash, last_kept.get(row.chain, 0))
                predecessor_deleted[row.chain] = False
                last_kept[row.chain] = row.id
            after = old[-1].id
            # The next row of a chain whose last row here went is bridged now, so the log
            # verifies after every batch, also when the purge stops between two. (A chain
            # whose newest row is past retention has no next row: a new one starts afresh.)
            for chain, deleted in predecessor_deleted.items():
                if deleted:
                    following = connection.execute(
                        select(_events.c.id, _events.c.prev_hash)
                        .where(_events.c.chain == chain, _events.c.id > after)
                        .order_by(_events.c.id).limit(1)).first()
                    if following is not None:
                        links[following.id] = (following.prev_hash,
                                               last_kept.get(chain, 0))
                    predecessor_deleted[chain] = False
            if doomed:
                connection.execute(delete(_events).where(_events.c.id.in_(doomed)))
            if doomed or links:
                _seal_batch(connection, key, after, len(doomed), links)
        yield PurgeBatch(len(old), len(doomed), after)
        if len(old) < len(rows) or len(rows) < batch:
            return


def _naive(moment: datetime) -> datetime:
    """UTC without a zone (SQLite returns them so; PostgreSQL with one)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment

