"""Two provider nodes behind a real load balancer: HAProxy terminating TLS (a test CA),
issuer https://127.0.0.1:<port>, `trust_proxy_headers = 1` (one proxy hop). Cookies are
Secure, redirects and the `iss` of the authorization response and of every token carry the
public https origin, the client address the audit log sees is the one HAProxy saw (not a
forged X-Forwarded-For), both nodes serve, and logins go on when one node stops."""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import create_engine, text

from tests.cluster import ClusterNode, person_fields
from tests.live import free_port, http_login, new_database
from tests.tls_front import HaproxyFront

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("postgres_url")]  # skips without PG

FORGED = "203.0.113.9"


def _served_by(node: ClusterNode) -> set[str]:
    paths = set()
    for line in (node.directory / "idp.log").read_text().splitlines():
        if line.startswith("{") and '"logger": "idp.access"' in line:
            paths.add(json.loads(line)["path"])
    return paths


def test_two_nodes_behind_haproxy_with_tls(tmp_path):
    front_port = free_port()
    origin = f"https://127.0.0.1:{front_port}"
    with ExitStack() as started, new_database("idp_lb") as url:
        state = (f'backend = "redis"\nredis_url = "redis://127.0.0.1:6379/13"\n'
                 f'key_prefix = "idplb:{uuid.uuid4().hex[:6]}:"')
        a, b = (ClusterNode(tmp_path / name, database_url=url, state=state, issuer=origin,
                            proxy_hops=1, extra_config="[logging]\naccess_log = true\n")
                for name in ("a", "b"))
        portal = a.add_portal("cong-lb", "https://portal.test")
        person, fields = person_fields(401)
        a.add_account(fields, person.password)
        for node in (a, b):
            started.callback(node.stop)
            node.start()
        front = HaproxyFront(tmp_path, [f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"],
                             port=front_port)
        started.callback(front.stop)
        front.start()

        answers: list[requests.Response] = []
        browser = _fresh_browser(front.ca_file)
        browser.headers["X-Forwarded-For"] = FORGED
        browser.hooks["response"].append(lambda response, *_a, **_k: answers.append(response))
        tokens = http_login(origin, portal, person.cccd, person.password,
                            lambda: a.last_otp(person.phone), browser=browser)

        cookies = [value for r in answers for name, value in r.raw.headers.items()
                   if name.lower() == "set-cookie"]
        assert cookies and all("Secure" in cookie and "HttpOnly" in cookie for cookie in cookies)
        locations = [r.headers["Location"] for r in answers if "Location" in r.headers]
        for location in locations:
            assert location.startswith(("/", origin + "/", "https://portal.test/")), location
        callback = next(loc for loc in locations if loc.startswith("https://portal.test/"))
        assert parse_qs(urlsplit(callback).query)["iss"] == [origin]
        assert all(r.headers.get("Strict-Transport-Security") for r in answers)

        discovery = browser.get(origin + "/.well-known/openid-configuration").json()
        assert discovery["issuer"] == origin
        assert all(discovery[key].startswith(origin + "/") for key in (
            "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
            "end_session_endpoint"))
        keys = KeySet.import_key_set(browser.get(discovery["jwks_uri"]).json())
        for name in ("id_token", "access_token"):
            assert jwt.decode(tokens[name], keys).claims["iss"] == origin
        refreshed = requests.post(discovery["token_endpoint"], verify=front.ca_file, data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(portal.client_id, portal.secret), timeout=10).json()
        assert jwt.decode(refreshed["id_token"], keys).claims["iss"] == origin

        engine = create_engine(url)
        started.callback(engine.dispose)
        with engine.connect() as connection:
            ips = set(connection.execute(text(
                "SELECT ip FROM audit_events WHERE event LIKE 'login%'")).scalars())
        assert ips == {"127.0.0.1"}  # HAProxy's view of the client, not the forged header
        assert "/login" in _served_by(a) | _served_by(b)
        assert _served_by(a) and _served_by(b), "the front sent every request to one node"

        a.stop()  # one node goes away: the front's health check takes it out
        for _ in range(3):
            again = http_login(origin, portal, person.cccd, person.password,
                               lambda: b.last_otp(person.phone),
                               browser=_fresh_browser(front.ca_file))
            assert jwt.decode(again["id_token"], keys).claims["iss"] == origin


def _fresh_browser(ca_file) -> requests.Session:
    """A browser that trusts the test CA (REQUESTS_CA_BUNDLE would override it otherwise)."""
    browser = requests.Session()
    browser.trust_env = False
    browser.verify = ca_file
    return browser
