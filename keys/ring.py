"""The signing keys as one worker sees them: parsed once, reloaded when another node rotates.

Decrypting a private key costs tens of milliseconds, so it happens when a key
becomes current, never per request. Requests read an immutable snapshot; a
reload builds a new snapshot and swaps it in, so readers need no lock.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from joserfc.jwk import JWKRegistry, Key, KeySet
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from keys.base import CURRENT, NEXT, RETIRED, KeyBackend, SigningKeyError, backend_for
from keys.models import SigningKey, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Row:
    kid: str
    alg: str
    backend: str
    state: str
    private_key: str
    public_jwk: dict


@dataclass(frozen=True)
class _Snapshot:
    fingerprint: frozenset[tuple[str, str]]
    signing: Mapping[str, tuple[str, Key]]
    verification: KeySet
    jwks_json: bytes
    private_rows: Mapping[str, _Row]  # kid -> row, for the keys in `signing`


class KeyRing:
    """Signing and published keys for one worker process, safe to share between threads."""

    def __init__(
        self,
        open_session: Callable[[], Session],
        backends: Mapping[str, KeyBackend],
        reload_seconds: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        """`open_session` is e.g. a sessionmaker; `backends` maps `SigningKey.backend`
        values to backends; `monotonic` and `now` exist so tests can move time."""
        self._open_session = open_session
        self._backends = backends
        self._reload_seconds = reload_seconds
        self._monotonic = monotonic
        self._now = now
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._next_check = 0.0

    def signing_key(self, alg: str) -> tuple[str, Key]:
        """(kid, private key) of the current key for `alg`; put the kid in the JWS header."""
        try:
            return self._loaded().signing[alg]
        except KeyError:
            raise SigningKeyError(
                f"no current {alg} signing key; create it with `idp db upgrade`"
            ) from None

    def jwks_json(self) -> bytes:
        """The published JWKS document (next, current, retired-not-yet-unpublished keys)."""
        return self._loaded().jwks_json

    def verification_keys(self) -> KeySet:
        """Public parts of every published key, to verify tokens this provider signed."""
        return self._loaded().verification

    def maybe_reload(self) -> bool:
        """Look for keys changed by another node at most every `reload_seconds`.

        Cheap enough for every request. Returns True when the keys changed. A
        failed reload is logged and the keys loaded before stay in use, so a
        database hiccup does not stop signing; only the first load raises.
        """
        first = self._snapshot is None
        if not first and self._monotonic() < self._next_check:
            return False
        # Only the first load makes other threads wait; later, whoever holds the
        # lock reloads while the rest carry on with the current snapshot.
        if not self._lock.acquire(blocking=first):
            return False
        try:
            if self._snapshot is not None and self._monotonic() < self._next_check:
                return False
            self._next_check = self._monotonic() + self._reload_seconds
            try:
                return self._reload()
            except Exception:
                if self._snapshot is None:
                    raise
                log.exception("reloading signing keys failed; keeping the loaded keys")
                return False
        finally:
            self._lock.release()

    def _loaded(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            self.maybe_reload()
            snapshot = self._snapshot
            assert snapshot is not None
        return snapshot

    def _reload(self) -> bool:
        rows = self._published_rows()
        fingerprint = frozenset((row.kid, row.state) for row in rows)
        old = self._snapshot
        if old is not None and old.fingerprint == fingerprint:
            return False
        self._snapshot = self._build(rows, fingerprint, old)
        log.info("signing keys loaded: %s", sorted(fingerprint))
        if old is not None:
            for kid, row in old.private_rows.items():
                if kid not in self._snapshot.private_rows:
                    backend_for(row.backend, self._backends).release(row.private_key, row.alg)
        return True

    def _published_rows(self) -> list[_Row]:
        now = self._now()
        with self._open_session() as session:
            keys = session.scalars(
                select(SigningKey)
                .where(
                    or_(
                        SigningKey.state.in_((NEXT, CURRENT)),
                        (SigningKey.state == RETIRED) & (SigningKey.unpublish_at > now),
                    )
                )
                # Newest activation first: should two nodes ever both have made a
                # current key, every worker picks the same one.
                .order_by(
                    SigningKey.alg, SigningKey.activated_at.desc().nulls_last(), SigningKey.kid
                )
            )
            return [
                _Row(k.kid, k.alg, k.backend, k.state, k.private_key, k.public_jwk) for k in keys
            ]

    def _build(
        self, rows: list[_Row], fingerprint: frozenset[tuple[str, str]], old: _Snapshot | None
    ) -> _Snapshot:
        parsed = {kid: key for kid, key in old.signing.values()} if old else {}
        public: list[Key] = []
        signing: dict[str, tuple[str, Key]] = {}
        private_rows: dict[str, _Row] = {}
        for row in rows:
            # Re-import the public JWK so a stray private member can never be published.
            public_key = JWKRegistry.import_key(row.public_jwk)
            public.append(JWKRegistry.import_key(public_key.as_dict(private=False)))
            if row.state == CURRENT and row.alg not in signing:
                key = parsed[row.kid] if row.kid in parsed else self._load_private(row)
                if key.thumbprint() != public_key.thumbprint():
                    raise SigningKeyError(f"signing key {row.kid}: private and public parts differ")
                signing[row.alg] = (row.kid, key)
                private_rows[row.kid] = row
        verification = KeySet(public)
        document = json.dumps(verification.as_dict(private=False), separators=(",", ":"))
        return _Snapshot(fingerprint, signing, verification, document.encode("utf-8"),
                         private_rows)

    def _load_private(self, row: _Row) -> Key:
        backend = backend_for(row.backend, self._backends)
        try:
            return backend.load_private(row.private_key, row.alg)
        except SigningKeyError as exc:
            raise type(exc)(f"signing key {row.kid}: {exc}") from exc
