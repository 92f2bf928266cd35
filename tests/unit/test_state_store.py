"""The StateStore contract, run against both backends: SQL (SQLite) and Redis.

Every test gets a fresh store: a new SQLite file with the schema created from the
models, or a Redis database 15 key space under a unique prefix (cleaned up after).
Expiry is checked with real time and tiny TTLs, so nothing here is faked.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest
from sqlalchemy import select

from idp.db import make_engine
from idp.store.models import Base, StateEntry
from idp.store.redis_state import RedisStateStore
from idp.store.state import SqlStateStore, StoreUnavailable
from tests.conftest import fresh_postgres_database

REDIS_URL = "redis://127.0.0.1:6379/15"
TTL = 0.2  # seconds: short enough to wait out, long enough to read back first
PAST_TTL = 0.35  # sleep this long to be past TTL on either backend


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sql", "redis"])
def store(request, tmp_path):
    if request.param == "sql":
        engine = make_engine(f"sqlite:///{tmp_path / 'state.sqlite3'}")
        Base.metadata.create_all(engine)
        yield SqlStateStore(engine, prefix="t:")
        engine.dispose()
        return
    if not _redis_reachable():
        pytest.skip("Redis not reachable at 127.0.0.1:6379: RedisStateStore contract not run")
    redis_store = RedisStateStore(REDIS_URL, prefix=f"idptest-state:{uuid.uuid4().hex}:")
    yield redis_store
    for key in redis_store.redis.scan_iter(redis_store.prefix + "*"):
        redis_store.redis.delete(key)
    redis_store.redis.close()


# --- put / get / expiry ------------------------------------------------------------------


def test_put_then_get_returns_the_value(store):
    store.put("k", {"a": 1, "name": "Nguyễn Văn An", "list": [1, 2]}, 10)
    assert store.get("k") == {"a": 1, "name": "Nguyễn Văn An", "list": [1, 2]}


def test_get_of_a_missing_key_is_none(store):
    assert store.get("never-written") is None


def test_get_many_returns_values_in_order_with_none_for_missing(store):
    store.put("a", {"v": "a"}, 10)
    store.put("c", {"v": "c", "name": "Trần Thị Bình"}, 10)
    assert store.get_many(["c", "missing", "a"]) == [
        {"v": "c", "name": "Trần Thị Bình"}, None, {"v": "a"}]
    assert store.get_many(["a", "a"]) == [{"v": "a"}, {"v": "a"}]
    assert store.get_many([]) == []


def test_get_many_skips_expired_entries_and_other_kinds(store):
    store.put("short", {"v": 1}, TTL)
    store.put("long", {"v": 2}, 10)
    store.incr("counter", 10)
    store.add_member("set", "m", 10)
    time.sleep(PAST_TTL)
    assert store.get_many(["short", "long", "set"]) == [None, {"v": 2}, None]


def test_put_replaces_the_value_and_restarts_the_ttl(store):
    store.put("k", {"v": 1}, TTL)
    store.put("k", {"v": 2}, 10)
    time.sleep(PAST_TTL)
    assert store.get("k") == {"v": 2}  # the second put's ttl counts, not the first's


def test_entry_expires_after_its_ttl(store):
    store.put("k", {"v": 1}, TTL)
    assert store.get("k") == {"v": 1}
    time.sleep(PAST_TTL)
    assert store.get("k") is None


def test_keys_are_independent(store):
    store.put("a", {"v": "a"}, 10)
    store.put("b", {"v": "b"}, 10)
    store.delete("a")
    assert store.get("a") is None
    assert store.get("b") == {"v": "b"}


# --- add (only if absent) ----------------------------------------------------------------


def test_add_stores_only_when_absent(store):
    assert store.add("lock", {"owner": 1}, 10) is True
    assert store.add("lock", {"owner": 2}, 10) is False
    assert store.get("lock") == {"owner": 1}


def test_add_does_not_overwrite_a_put_entry(store):
    store.put("k", {"v": "put"}, 10)
    assert store.add("k", {"v": "add"}, 10) is False
    assert store.get("k") == {"v": "put"}


def test_add_over_an_expired_entry_succeeds(store):
    assert store.add("marker", {"n": 1}, TTL) is True
    time.sleep(PAST_TTL)
    assert store.add("marker", {"n": 2}, 10) is True
    assert store.get("marker") == {"n": 2}


def test_add_is_single_winner_under_concurrency(store):
    barrier = threading.Barrier(20)
    results: list[bool] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        barrier.wait()
        won = store.add("once", {"n": n}, 10)
        with lock:
            results.append(won)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 20
    assert results.count(True) == 1


# --- take (atomic read and delete) -------------------------------------------------------


def test_take_returns_the_value_once(store):
    store.put("code", {"c": 42}, 10)
    assert store.take("code") == {"c": 42}
    assert store.take("code") is None
    assert store.get("code") is None


def test_take_of_missing_or_expired_is_none(store):
    assert store.take("nothing") is None
    store.put("old", {"v": 1}, TTL)
    time.sleep(PAST_TTL)
    assert store.take("old") is None


def test_take_is_single_winner_under_concurrency(store):
    store.put("code", {"secret": "only-one"}, 30)
    barrier = threading.Barrier(20)
    got: list[dict | None] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait()
            value = store.take("code")
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)
            return
        with lock:
            got.append(value)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(got) == 20
    winners = [value for value in got if value is not None]
    assert winners == [{"secret": "only-one"}]


# --- incr / count ------------------------------------------------------------------------


def test_incr_counts_from_one(store):
    assert store.count("hits") == 0
    assert [store.incr("hits", 10) for _ in range(3)] == [1, 2, 3]
    assert store.count("hits") == 3


def test_incr_window_starts_at_the_first_hit_and_is_not_extended(store):
    assert store.incr("win", 0.6) == 1
    time.sleep(0.35)
    assert store.incr("win", 0.6) == 2  # same window: later hits do not push its end
    time.sleep(0.4)  # 0.75 s after the first hit (a sliding window would last to 0.95 s)
    assert store.count("win") == 0
    assert store.incr("win", 0.6) == 1  # a new window starts
    assert store.count("win") == 1


def test_incr_under_concurrency_loses_no_hit(store):
    barrier = threading.Barrier(10)

    def worker() -> None:
        barrier.wait()
        for _ in range(5):
            store.incr("busy", 30)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert store.count("busy") == 50


def test_incr_many_counts_each_key_in_order_with_its_own_window(store):
    store.incr("a", 30)
    assert store.incr_many([("a", 30), ("b", 0.3), ("a", 30)]) == [2, 1, 3]
    assert store.expires_at("b") == pytest.approx(time.time() + 0.3, abs=0.2)
    time.sleep(PAST_TTL)
    assert store.incr_many([("b", 30), ("a", 30)]) == [1, 4]  # b's window ended, a's did not
    assert store.incr_many([]) == []


def test_incr_many_under_concurrency_loses_no_hit(store):
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(5):
            store.incr_many([("x", 30), ("y", 30)])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert (store.count("x"), store.count("y")) == (40, 40)


def test_incr_many_in_opposite_orders_does_not_deadlock_on_postgresql():
    """Two steps counting the same limits in different orders: on PostgreSQL each holds
    its row locks to the commit, so the SQL store must take them in one order."""
    with fresh_postgres_database("idp_state", "opposite-order counting not run") as url:
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        store = SqlStateStore(engine, prefix="t:")
        barrier = threading.Barrier(2)
        refused: list[StoreUnavailable] = []

        def worker(keys: tuple[str, ...]) -> None:
            barrier.wait()
            for _ in range(30):
                try:
                    store.incr_many([(key, 60) for key in keys])
                except StoreUnavailable as error:
                    refused.append(error)

        threads = [threading.Thread(target=worker, args=(keys,))
                   for keys in (("a", "b", "c"), ("c", "b", "a"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        counts = [count for count, _ in store.counters(["a", "b", "c"])]
        engine.dispose()
    assert refused == [] and counts == [60, 60, 60]


def test_counters_read_values_and_window_ends_in_order(store):
    store.incr("one", 30)
    store.incr_many([("two", 60), ("two", 60)])
    store.incr("short", TTL)
    time.sleep(PAST_TTL)
    now = time.time()
    [one, two, short, missing, one_again] = store.counters(
        ["one", "two", "short", "missing", "one"])
    assert one == one_again and one[0] == 1 and one[1] == pytest.approx(now + 30, abs=1)
    assert two[0] == 2 and two[1] == pytest.approx(now + 60, abs=1)
    assert short == (0, None) and missing == (0, None)  # expired, never counted
    assert store.counters([]) == []


def test_decr_takes_one_back_keeping_the_window_and_never_goes_below_zero(store):
    store.incr("given", 30)
    store.incr("given", 30)
    ends = store.expires_at("given")
    store.decr("given")
    assert store.count("given") == 1
    assert store.expires_at("given") == pytest.approx(ends, abs=0.5)
    store.decr("given")
    store.decr("given")
    assert store.count("given") == 0
    store.decr("never-counted")
    assert store.count("never-counted") == 0 and store.expires_at("never-counted") is None
    assert store.incr("never-counted", 30) == 1


def test_delete_forgets_values_and_counters(store):
    store.put("k", {"v": 1}, 10)
    store.incr("c", 10)
    store.delete("k")
    store.delete("c")
    store.delete("never-existed")  # no error
    assert store.get("k") is None
    assert store.count("c") == 0
    assert store.add("k", {"v": 2}, 10) is True


def test_ping_on_a_live_store(store):
    store.ping()


# --- backend specifics -------------------------------------------------------------------


def test_sql_prefix_separates_stores(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    Base.metadata.create_all(engine)
    one, two = SqlStateStore(engine, prefix="one:"), SqlStateStore(engine, prefix="two:")
    one.put("k", {"who": 1}, 10)
    assert two.get("k") is None
    with engine.connect() as connection:
        keys = connection.scalars(select(StateEntry.key)).all()
    assert keys == ["one:k"]
    engine.dispose()


def test_sql_purge_expired_removes_only_expired_rows(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    Base.metadata.create_all(engine)
    store = SqlStateStore(engine)
    store.put("short", {"v": 1}, TTL)
    store.put("long", {"v": 2}, 10)
    time.sleep(PAST_TTL)
    assert store.purge_expired() == 1
    assert store.get("long") == {"v": 2}
    engine.dispose()


def test_unreachable_redis_raises_store_unavailable():
    store = RedisStateStore("redis://127.0.0.1:6390/15", prefix="nowhere:")
    started = time.monotonic()
    for call in (lambda: store.get("k"), lambda: store.put("k", {}, 1),
                 lambda: store.add("k", {}, 1), lambda: store.take("k"),
                 lambda: store.incr("k", 1), lambda: store.count("k"),
                 lambda: store.delete("k"), lambda: store.counters(["k"]),
                 lambda: store.incr_many([("k", 1)]), store.ping):
        with pytest.raises(StoreUnavailable):
            call()
    assert time.monotonic() - started < 20  # fails fast, never hangs


def test_unusable_sql_database_raises_store_unavailable(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'state.sqlite3'}")
    store = SqlStateStore(engine)
    for call in (lambda: store.get("k"), lambda: store.add("k", {}, 1),
                 lambda: store.counters(["k"]), lambda: store.incr_many([("k", 1)]), store.ping):
        with pytest.raises(StoreUnavailable):
            call()
    engine.dispose()
