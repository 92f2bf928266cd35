"""The life of a signing key in the database: created as next, current, retired, deleted.

Every key is published (in the JWKS) for at least one rotation period before it
signs, so relying parties that cache the JWKS already know it; and it stays
published after it stops signing until every token it signed has expired.

These functions change rows but do not commit: run them in one transaction,
e.g. ``with db.begin() as session:``, so a rotation is all or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.orm import Session

from keys.base import ALGORITHMS, CURRENT, NEXT, RETIRED, KeyBackend, SigningKeyError, check_alg
from keys.models import SigningKey, utcnow


@dataclass(frozen=True)
class KeyChange:
    """One key changing state; `before` None means created, `after` None means deleted."""

    kid: str
    alg: str
    before: str | None
    after: str | None

    def __str__(self) -> str:
        return f"{self.alg} {self.kid}: {self.before or 'new'} -> {self.after or 'deleted'}"


@dataclass(frozen=True)
class KeyInfo:
    """What `idp keys list` shows of a key (never the private part)."""

    kid: str
    alg: str
    backend: str
    state: str
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None
    unpublish_at: datetime | None


def ensure_keys(
    session: Session,
    backend: KeyBackend,
    algs: Iterable[str] = ALGORITHMS,
    *,
    now: datetime | None = None,
) -> list[KeyChange]:
    """Give every algorithm one current and one next key; do nothing if they exist.

    On first run this creates both keys per algorithm. Should the current key
    be missing later, the next one (already published) takes over.
    """
    now = now or utcnow()
    changes: list[KeyChange] = []
    for alg in algs:
        check_alg(alg)
        current, upcoming = _live_keys(session, alg)
        if not current:
            if upcoming:
                changes.append(_activate(upcoming.pop(0), now))
            else:
                changes.append(_create(session, backend, alg, CURRENT, now))
        if not upcoming:
            changes.append(_create(session, backend, alg, NEXT, now))
    session.flush()
    return changes


def rotate(
    session: Session,
    backend: KeyBackend,
    *,
    max_token_ttl: int,
    algs: Iterable[str] = ALGORITHMS,
    now: datetime | None = None,
) -> list[KeyChange]:
    """Next becomes current, current becomes retired, a fresh next key is created.

    `max_token_ttl` (seconds) is how long a retired key stays in the JWKS. It
    must cover the longest-lived token the key signed, plus the time other
    workers keep signing with it before they reload (`keys.reload_seconds`),
    plus clock skew. Retired keys past their unpublish time are deleted.
    """
    if max_token_ttl <= 0:
        raise ValueError("max_token_ttl must be a positive number of seconds")
    now = now or utcnow()
    unpublish_at = now + timedelta(seconds=max_token_ttl)
    changes: list[KeyChange] = []
    for alg in algs:
        check_alg(alg)
        current, upcoming = _live_keys(session, alg)
        if not upcoming:
            # Creating and activating a key at once would sign with a key no
            # relying party has fetched yet.
            raise SigningKeyError(
                f"no next {alg} key to activate; create one with `idp db upgrade`"
            )
        for row in current:
            row.state, row.retired_at, row.unpublish_at = RETIRED, now, unpublish_at
            changes.append(KeyChange(row.kid, alg, CURRENT, RETIRED))
        changes.append(_activate(upcoming[0], now))
        changes.append(_create(session, backend, alg, NEXT, now))
    changes.extend(_purge(session, backend, now))
    session.flush()
    return changes


def withdraw(
    session: Session,
    backend: KeyBackend,
    kid: str,
    *,
    max_token_ttl: int,
    now: datetime | None = None,
) -> list[KeyChange]:
    """Take a compromised key out of the JWKS and delete it now, instead of after its
    tokens expire: tokens it signed stop verifying once portals fetch the JWKS again
    (the citizens concerned log in again). A current key is first replaced by the next
    one (already published), a next key by a new one, so signing never stops."""
    now = now or utcnow()
    row = session.get(SigningKey, kid)
    if row is None:
        raise SigningKeyError(f"no signing key {kid!r} (see `idp keys list`)")
    changes: list[KeyChange] = []
    if row.state == CURRENT:
        changes += rotate(session, backend, max_token_ttl=max_token_ttl, algs=[row.alg],
                          now=now)
    elif row.state == NEXT:
        row.state, row.retired_at = RETIRED, now
        changes += [KeyChange(kid, row.alg, NEXT, RETIRED),
                    _create(session, backend, row.alg, NEXT, now)]
    row.unpublish_at = now
    session.flush()
    changes += _purge(session, backend, now)
    session.flush()
    return changes


def list_keys(session: Session) -> list[KeyInfo]:
    """Every stored key, by algorithm then life stage (next, current, retired)."""
    stage = case({NEXT: 0, CURRENT: 1}, value=SigningKey.state, else_=2)
    rows = session.scalars(
        select(SigningKey).order_by(SigningKey.alg, stage, SigningKey.created_at.desc())
    )
    return [
        KeyInfo(
            row.kid,
            row.alg,
            row.backend,
            row.state,
            row.created_at,
            row.activated_at,
            row.retired_at,
            row.unpublish_at,
        )
        for row in rows
    ]


def _live_keys(session: Session, alg: str) -> tuple[list[SigningKey], list[SigningKey]]:
    """The current and next keys of `alg`, locked so two rotations cannot interleave."""
    rows = session.scalars(
        select(SigningKey)
        .where(SigningKey.alg == alg, SigningKey.state.in_((CURRENT, NEXT)))
        .order_by(SigningKey.created_at, SigningKey.kid)
        .with_for_update()
    ).all()
    return (
        [row for row in rows if row.state == CURRENT],
        [row for row in rows if row.state == NEXT],
    )


def _create(
    session: Session, backend: KeyBackend, alg: str, state: str, now: datetime
) -> KeyChange:
    stored_private, public_jwk = backend.generate(alg)
    row = SigningKey(
        kid=public_jwk["kid"],
        alg=alg,
        backend=backend.name,
        private_key=stored_private,
        public_jwk=public_jwk,
        state=state,
        created_at=now,
        activated_at=now if state == CURRENT else None,
    )
    session.add(row)
    return KeyChange(row.kid, alg, None, state)


def _activate(row: SigningKey, now: datetime) -> KeyChange:
    row.state, row.activated_at = CURRENT, now
    return KeyChange(row.kid, row.alg, NEXT, CURRENT)


def _purge(session: Session, backend: KeyBackend, now: datetime) -> list[KeyChange]:
    """Delete retired keys no longer published: no unexpired token needs them. Keys the
    backend made are deleted where they live too (an HSM's objects); if that fails, the
    rotation fails and nothing is deleted, so the next rotation tries again."""
    gone = session.execute(
        select(SigningKey.kid, SigningKey.alg, SigningKey.backend, SigningKey.private_key).where(
            SigningKey.state == RETIRED, SigningKey.unpublish_at <= now
        )
    ).all()
    for _kid, alg, made_by, stored in gone:
        if made_by == backend.name:
            backend.destroy(stored, alg)
    if gone:
        session.execute(delete(SigningKey).where(SigningKey.kid.in_([row.kid for row in gone])))
    return [KeyChange(row.kid, row.alg, RETIRED, None) for row in gone]
