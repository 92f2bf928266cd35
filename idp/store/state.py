"""Short-lived state: login transactions, OTP challenges, codes, counters, SSO sessions.

One small interface, two backends: SQL (the embedded default, in the same
database) and Redis (production). Both are shared by every worker and node;
nothing here lives only in one process's memory.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from sqlalchemy import bindparam, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError as SQLOperationalError

from idp.store.models import StateEntry


class StoreUnavailable(Exception):
    """The state store cannot be reached; callers fail closed (HTTP 503)."""


class StateStore(Protocol):
    """Key/value entries that expire by themselves."""

    def put(self, key: str, value: dict, ttl: float) -> None:
        """Store `value` under `key` for `ttl` seconds, replacing what was there."""

    def add(self, key: str, value: dict, ttl: float) -> bool:
        """Store only if `key` is absent; True when stored (a lock or single-use marker)."""

    def get(self, key: str) -> dict | None:
        """The live value, or None."""

    def get_many(self, keys: list[str]) -> list[dict | None]:
        """The live values of `keys`, in order (None where absent or expired), in one call."""

    def take(self, key: str) -> dict | None:
        """Atomically read and delete: at most one caller ever gets the value."""

    def delete(self, key: str) -> None:
        """Forget `key`."""

    def incr(self, key: str, ttl: float) -> int:
        """Add one to a counter whose window of `ttl` seconds starts at its first hit."""

    def decr(self, key: str) -> None:
        """Take one back from a live counter (never below zero; its window is unchanged)."""

    def incr_many(self, counters: list[tuple[str, float]]) -> list[int]:
        """`incr` of each (key, ttl) in order, in one call; the values after each."""

    def count(self, key: str) -> int:
        """A counter's current value (0 when absent or expired)."""

    def counters(self, keys: list[str]) -> list[tuple[int, float | None]]:
        """Each counter's value and when its window ends, in order, in one call ((0, None)
        where absent or expired)."""

    def expires_at(self, key: str) -> float | None:
        """When the entry or counter `key` expires (epoch seconds), or None when absent."""

    def add_member(self, key: str, member: str, ttl: float) -> None:
        """Add `member` to the set `key`; the set lives `ttl` seconds after its last change."""

    def remove_member(self, key: str, member: str) -> None:
        """Remove `member` from the set `key`."""

    def members(self, key: str) -> set[str]:
        """The live members of the set `key`."""

    def ping(self) -> None:
        """Raise StoreUnavailable when the backend cannot be reached."""


def _dumps(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class SqlStateStore:
    """State entries in the `state_entries` table; expired rows are purged lazily.

    Every statement is built once with bound parameters: a request only binds
    values (building and cache-keying a statement per call cost more than
    running it, and a login makes a few dozen of these calls).
    """

    PURGE_EVERY = 200  # one write in this many also deletes expired rows

    def __init__(self, engine: Engine, prefix: str = "") -> None:
        self.engine = engine
        self.prefix = prefix
        dialect = sqlite if engine.dialect.name == "sqlite" else postgresql
        e = StateEntry
        key, now = bindparam("k"), bindparam("now")
        put = dialect.insert(e).values(
            key=key, value=bindparam("v"), counter=0, expires_at=bindparam("exp")
        )
        self._put = put.on_conflict_do_update(
            index_elements=[e.key],
            set_={"value": put.excluded.value, "expires_at": put.excluded.expires_at,
                  "counter": 0},
        )
        self._delete_expired_key = delete(e).where(e.key == key, e.expires_at <= now)
        self._add = put.on_conflict_do_nothing()
        self._get = select(e.value).where(e.key == key, e.expires_at > now)
        self._get_many = select(e.key, e.value).where(
            e.key.in_(bindparam("keys", expanding=True)), e.expires_at > now
        )
        self._take = delete(e).where(e.key == key).returning(e.value, e.expires_at)
        self._delete = delete(e).where(e.key == key)
        expired = e.expires_at <= now
        incr = dialect.insert(e).values(
            key=key, value=None, counter=1, expires_at=bindparam("exp")
        )
        self._incr = incr.on_conflict_do_update(
            index_elements=[e.key],
            set_={
                "counter": case((expired, 1), else_=e.counter + 1),
                "expires_at": case((expired, incr.excluded.expires_at), else_=e.expires_at),
            },
        ).returning(e.counter)
        self._decr = (update(e).where(e.key == key, e.expires_at > now, e.counter > 0)
                      .values(counter=e.counter - 1))
        self._count = select(e.counter).where(e.key == key, e.expires_at > now)
        self._counters = select(e.key, e.counter, e.expires_at).where(
            e.key.in_(bindparam("keys", expanding=True)), e.expires_at > now
        )
        self._expires_at = select(e.expires_at).where(e.key == key, e.expires_at > now)
        member = dialect.insert(e).values(
            key=key, set_key=bindparam("set"), value=None, counter=0,
            expires_at=bindparam("exp"),
        )
        self._add_member = member.on_conflict_do_update(
            index_elements=[e.key], set_={"expires_at": member.excluded.expires_at}
        )
        self._members = select(e.key).where(e.set_key == bindparam("set"), e.expires_at > now)
        self._purge = delete(e).where(e.expires_at <= now)

    def _key(self, key: str) -> str:
        return self.prefix + key

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One transaction; a database that cannot be reached is StoreUnavailable."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except SQLOperationalError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def _run(self, statement, params=None, fetch=lambda result: result.rowcount):
        """Execute in its own transaction; `fetch` reads the result before the commit."""
        with self._transaction() as connection:
            return fetch(connection.execute(statement, params))

    def put(self, key: str, value: dict, ttl: float) -> None:
        self._run(self._put, {"k": self._key(key), "v": _dumps(value),
                              "exp": time.time() + ttl})
        self._maybe_purge()

    def add(self, key: str, value: dict, ttl: float) -> bool:
        now = time.time()
        full_key = self._key(key)
        with self._transaction() as connection:
            connection.execute(self._delete_expired_key, {"k": full_key, "now": now})
            result = connection.execute(
                self._add, {"k": full_key, "v": _dumps(value), "exp": now + ttl}
            )
            return result.rowcount == 1

    def get(self, key: str) -> dict | None:
        row = self._run(self._get, {"k": self._key(key), "now": time.time()},
                        lambda result: result.first())
        return json.loads(row[0]) if row and row[0] is not None else None

    def _live_rows(self, statement, keys: list[str]) -> tuple[list[str], list]:
        """The full keys of `keys`, and the live rows `statement` finds for them (one
        SELECT, each key asked once)."""
        full = [self._key(key) for key in keys]
        if not full:
            return full, []
        return full, self._run(statement,
                               {"keys": list(dict.fromkeys(full)), "now": time.time()},
                               lambda result: result.all())

    def get_many(self, keys: list[str]) -> list[dict | None]:
        full, rows = self._live_rows(self._get_many, keys)
        found = {key: value for key, value in rows if value is not None}
        return [json.loads(found[key]) if key in found else None for key in full]

    def take(self, key: str) -> dict | None:
        row = self._run(self._take, {"k": self._key(key)}, lambda result: result.first())
        if row is None or row[1] <= time.time() or row[0] is None:
            return None
        return json.loads(row[0])

    def delete(self, key: str) -> None:
        self._run(self._delete, {"k": self._key(key)})

    def incr(self, key: str, ttl: float) -> int:
        now = time.time()
        params = {"k": self._key(key), "now": now, "exp": now + ttl}
        return int(self._run(self._incr, params, lambda result: result.scalar_one()))

    def incr_many(self, counters: list[tuple[str, float]]) -> list[int]:
        now = time.time()
        values = [0] * len(counters)
        with self._transaction() as connection:
            # In key order: the rows stay locked to the commit, and two steps counting the
            # same limits in different orders would otherwise deadlock (PostgreSQL).
            for index in sorted(range(len(counters)), key=lambda i: counters[i][0]):
                key, ttl = counters[index]
                values[index] = int(connection.execute(self._incr, {
                    "k": self._key(key), "now": now, "exp": now + ttl}).scalar_one())
        return values

    def decr(self, key: str) -> None:
        self._run(self._decr, {"k": self._key(key), "now": time.time()})

    def count(self, key: str) -> int:
        value = self._run(self._count, {"k": self._key(key), "now": time.time()},
                          lambda result: result.scalar())
        return int(value or 0)

    def counters(self, keys: list[str]) -> list[tuple[int, float | None]]:
        full, rows = self._live_rows(self._counters, keys)
        found = {key: (int(counter or 0), expires) for key, counter, expires in rows}
        return [found.get(key, (0, None)) for key in full]

    def expires_at(self, key: str) -> float | None:
        return self._run(self._expires_at, {"k": self._key(key), "now": time.time()},
                         lambda result: result.scalar())

    def add_member(self, key: str, member: str, ttl: float) -> None:
        full_key = self._key(key)
        self._run(self._add_member, {"k": f"{full_key}\x1f{member}", "set": full_key,
                                     "exp": time.time() + ttl})

    def remove_member(self, key: str, member: str) -> None:
        self._run(self._delete, {"k": f"{self._key(key)}\x1f{member}"})

    def members(self, key: str) -> set[str]:
        full_key = self._key(key)
        rows = self._run(self._members, {"set": full_key, "now": time.time()},
                         lambda result: result.scalars().all())
        return {row[len(full_key) + 1:] for row in rows}

    def ping(self) -> None:
        self._run(select(1))

    def _maybe_purge(self) -> None:
        if random.randrange(self.PURGE_EVERY) == 0:  # noqa: S311 - not security relevant
            self.purge_expired()

    def purge_expired(self) -> int:
        """Delete every expired entry now; returns how many went."""
        return self._run(self._purge, {"now": time.time()})

    def expire_now(self, key: str) -> None:
        """Test hook: make an entry expire immediately (as if its time had passed)."""
        self._run(
            update(StateEntry)
            .where(StateEntry.key == self._key(key))
            .values(expires_at=time.time() - 1)
        )


def make_state_store(settings, engine: Engine) -> StateStore:
    """The backend chosen by `state.backend`."""
    if settings.state.backend == "redis":
        from idp.store.redis_state import RedisStateStore

        state = settings.state
        return RedisStateStore(state.redis_url, state.key_prefix, sentinels=state.sentinels,
                               service=state.sentinel_service)
    return SqlStateStore(engine)
