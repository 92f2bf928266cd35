"""Redis Sentinel: the primary is killed while logins and refreshes run through two
provider nodes. During the switch requests fail closed (the Vietnamese 503 page, or
`temporarily_unavailable` for portals); then logins and refreshes work on the new primary
with no node restarted.

Our own redis-server primary, replica and three sentinels on loopback; PostgreSQL is the
shared one (a database of this test's own)."""

from __future__ import annotations

import time
import uuid
from contextlib import ExitStack

import pytest

from tests.cluster import ClusterNode, person_fields
from tests.live import http_login, new_database
from tests.own_redis import RedisSentinelSet
from tests.traffic import Traffic

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("postgres_url")]  # skips without PG

USERS = 4
AFTER_FAILOVER_SECONDS = 8
GRACE_SECONDS = 3
"""After the sentinels name the new primary, how long a node may still take to reach it."""


def test_logins_and_refreshes_survive_a_redis_primary_failover(tmp_path):
    with ExitStack() as started, new_database("idp_sentinel") as url:
        redis_set = RedisSentinelSet(tmp_path)
        started.callback(redis_set.stop)  # also what a failed start left running
        redis_set.start()
        state = redis_set.state_config(f"idpsent:{uuid.uuid4().hex[:6]}:")
        a, b = (ClusterNode(tmp_path / name, database_url=url, state=state, issuer=None)
                for name in ("a", "b"))
        # Refresh tokens bound to the SSO session: every refresh reads the session in Redis.
        portal = a.add_portal("cong-sentinel", "http://127.0.0.1:9", session_refresh_tokens=True,
                              scopes=["openid", "profile"])
        people = []
        for n in range(USERS):
            person, fields = person_fields(200 + n)
            a.add_account(fields, person.password)
            people.append(person)
        for node in (a, b):
            started.callback(node.stop)
            node.start()
        a_pid, b_pid = a.process.pid, b.process.pid

        traffic = Traffic([a.url, b.url], portal, a, people).start()
        started.callback(traffic.stop)
        time.sleep(3)
        killed_at = time.monotonic()
        old = redis_set.kill_primary()
        new = redis_set.wait_for_new_primary(old)
        switched_at = time.monotonic()
        time.sleep(AFTER_FAILOVER_SECONDS)
        traffic.stop()

        window_end = switched_at + GRACE_SECONDS
        failures = [o for o in traffic.outcomes if not o.ok]
        print(f"\nfailover: primary {old} killed, {new} primary after "
              f"{switched_at - killed_at:.1f} s; whole run: {traffic.summary()}, "
              f"after the window: {traffic.summary(window_end)}")
        assert [f for f in failures if f.status >= 500 and not f.failed_closed] == []
        assert all(killed_at <= f.at <= window_end for f in failures), failures
        # What a lost write looks like (state written to the old primary just before the
        # kill, not yet replicated): a 4xx page asking to start again, never a login.
        assert all(f.failed_closed or 400 <= f.status < 500 for f in failures)
        after = traffic.summary(window_end)
        assert after.get("login ok", 0) >= USERS and after.get("refresh ok", 0) >= USERS, after

        # No node was restarted, and a fresh login works through each on the new primary.
        assert (a.process.pid, b.process.pid) == (a_pid, b_pid)
        assert a.process.poll() is None and b.process.poll() is None
        for node in (a, b):
            tokens = http_login(node.url, portal, people[0].cccd, people[0].password,
                                lambda: a.last_otp(people[0].phone))
            assert "id_token" in tokens
        assert redis_set.client(new).dbsize() > 0
