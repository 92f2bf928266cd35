"""A portal down for 30 s still learns of a logout: the delivery is stored, the node that
took the logout is stopped, and the other node delivers once the portal is back.

Two `idp serve` nodes (two gunicorn workers each) share PostgreSQL and Redis."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.cluster import ClusterNode, person_fields
from tests.live import REPO, free_port, http_login, new_database
from tests.receiver import Receiver

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("postgres_url")]  # skips without PG/Redis

OUTAGE_SECONDS = 30
RETRIES = "[logout]\nbackchannel_retry_first = 1\nbackchannel_retry_max = 4\n"


def _status(node: ClusterNode) -> list[dict]:
    out = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "idp.cli", "--config", str(node.config), "backchannel", "status",
         "--json"], capture_output=True, text=True, cwd=REPO, check=True)
    return json.loads(out.stdout)


def test_a_logout_reaches_a_portal_that_was_down_for_30_seconds(tmp_path):
    portal_port = free_port()  # nothing listens there yet: the portal is down
    with ExitStack() as started, new_database("idp_bcl") as url:
        state = (f'backend = "redis"\nredis_url = "redis://127.0.0.1:6379/13"\n'
                 f'key_prefix = "idpbcl:{uuid.uuid4().hex[:6]}:"')
        a, b = (ClusterNode(tmp_path / name, database_url=url, state=state, issuer=None,
                            extra_config=RETRIES) for name in ("a", "b"))
        portal = a.add_portal("cong-tinh", f"http://127.0.0.1:{portal_port}")
        person, fields = person_fields(12)
        a.add_account(fields, person.password)
        for node in (a, b):
            started.callback(node.stop)
            node.start()

        browser = requests.Session()
        tokens = http_login(a.url, portal, person.cccd, person.password,
                            lambda: a.last_otp(person.phone), browser=browser)
        logged_out = browser.get(a.url + "/logout", params={"id_token_hint": tokens["id_token"]})
        assert logged_out.status_code == 200 and "đã đăng xuất" in logged_out.text
        down_since = time.monotonic()
        a.stop()  # the node that took the logout is gone; the delivery is in the database

        [owed] = _status(b)
        assert owed["client_id"] == "cong-tinh" and owed["pending"] == 1
        assert owed["last_error"] == "ConnectionError"

        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))
        receiver = Receiver(port=portal_port)
        started.callback(receiver.close)
        [(path, form)] = receiver.wait_for(1, timeout=20)
        arrived_after = time.monotonic() - down_since
        assert path == "/backchannel-logout"
        keys = KeySet.import_key_set(requests.get(b.url + "/jwks", timeout=5).json())
        claims = jwt.decode(form["logout_token"], keys).claims
        id_claims = jwt.decode(tokens["id_token"], keys).claims
        assert claims["sid"] == id_claims["sid"] and claims["aud"] == "cong-tinh"
        assert claims["exp"] > time.time()
        assert OUTAGE_SECONDS <= arrived_after < OUTAGE_SECONDS + 15
        assert _status(b) == []
