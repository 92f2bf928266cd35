"""PostgreSQL failover: the primary crashes while logins and refreshes run through two
provider nodes, and its synchronous standby (made by pg_basebackup) is promoted. The nodes
reach it through the libpq multi-host URL (target_session_attrs=read-write) with no
restart. Afterwards every refresh chain still works, or fails as a reuse does (a rotation
that committed but whose answer was lost, retried by the portal); `idp audit verify`
passes; every refresh token and login a client was answered is in the new primary."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.cluster import ClusterNode, person_fields
from tests.conftest import _reachable
from tests.live import REPO, http_login
from tests.own_postgres import PostgresPair
from tests.traffic import Chain, Traffic

pytestmark = pytest.mark.slow

USERS = 4
OUTAGE_SECONDS = 2
"""How long the nodes go without a primary before the standby is promoted."""
AFTER_SECONDS = 8
GRACE_SECONDS = 3


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _reused(engine, chain: Chain) -> bool:
    """The chain's last token was rotated by a request whose answer never reached the
    portal, and presenting it again revoked its family: what a reuse does."""
    with engine.connect() as connection:
        row = connection.execute(text(
            "SELECT t.rotated_at, f.revoked FROM refresh_tokens t, LATERAL (SELECT bool_and("
            "revoked_at IS NOT NULL) AS revoked FROM refresh_tokens WHERE family_id = "
            "t.family_id) f WHERE t.token_digest = :d"), {"d": _digest(chain.refresh_token)}
        ).first()
    return row is not None and row.rotated_at is not None and row.revoked


def test_a_promoted_standby_takes_over_without_losing_an_acknowledged_row(tmp_path):
    if not _reachable(6379):
        pytest.skip("Redis not reachable at 127.0.0.1:6379: the nodes keep their state there")
    with ExitStack() as started:
        pair = PostgresPair()
        started.callback(pair.stop)
        pair.start()
        url = pair.create_database("idp")
        state = (f'backend = "redis"\nredis_url = "redis://127.0.0.1:6379/13"\n'
                 f'key_prefix = "idppg:{uuid.uuid4().hex[:6]}:"')
        a, b = (ClusterNode(tmp_path / name, database_url=url, state=state, issuer=None)
                for name in ("a", "b"))
        portal = a.add_portal("cong-pg", "http://127.0.0.1:9")
        people = []
        for n in range(USERS):
            person, fields = person_fields(300 + n)
            a.add_account(fields, person.password)
            people.append(person)
        for node in (a, b):
            started.callback(node.stop)
            node.start()
        pids = (a.process.pid, b.process.pid)

        traffic = Traffic([a.url, b.url], portal, a, people).start()
        started.callback(traffic.stop)
        time.sleep(3)
        crashed_at = time.monotonic()
        pair.crash_primary()
        time.sleep(OUTAGE_SECONDS)
        pair.promote_standby()
        promoted_at = time.monotonic()
        time.sleep(AFTER_SECONDS)
        traffic.stop()

        window_end = promoted_at + GRACE_SECONDS
        print(f"\nprimary crashed, standby promoted {promoted_at - crashed_at:.1f} s later; "
              f"whole run: {traffic.summary()}, after the window: "
              f"{traffic.summary(window_end)}")
        failures = [o for o in traffic.outcomes if not o.ok]
        assert all(crashed_at <= f.at <= window_end for f in failures), failures
        assert all(f.failed_closed or (f.kind == "refresh" and f.status == 400)
                   for f in failures), failures
        after = traffic.summary(window_end)
        assert after.get("login ok", 0) >= USERS and after.get("refresh ok", 0) >= USERS, after
        assert (a.process.pid, b.process.pid) == pids and a.process.poll() is None

        engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{pair.standby_port}/idp")
        started.callback(engine.dispose)
        # Every chain works, or fails as a reuse would.
        for chain in traffic.chains:
            if chain.ended is None:
                traffic.refresh(chain, b.url)
            if chain.ended is not None:
                assert "invalid_grant" in chain.ended.detail and _reused(engine, chain), chain
        # Nothing a client was answered is missing from the new primary.
        with engine.connect() as connection:
            stored = set(connection.execute(text(
                "SELECT token_digest FROM refresh_tokens")).scalars())
            logins = connection.execute(text(
                "SELECT count(*) FROM audit_events WHERE event = 'login' "
                "AND result = 'success'")).scalar_one()
        acknowledged = {_digest(t) for chain in traffic.chains for t in chain.acknowledged}
        assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged tokens lost"
        assert logins >= len(traffic.chains)
        verify = subprocess.run(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "idp.cli", "--config", str(a.config), "audit", "verify"],
            capture_output=True, text=True, cwd=REPO)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        for node in (a, b):
            tokens = http_login(node.url, portal, people[0].cccd, people[0].password,
                                lambda: a.last_otp(people[0].phone))
            assert requests.get(node.url + "/userinfo", timeout=10, headers={
                "Authorization": f"Bearer {tokens['access_token']}"}).status_code == 200
