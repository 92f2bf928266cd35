"""Two provider nodes sharing one PostgreSQL and one Redis: any node serves any step.

Login starts on node A and finishes on node B, the code is exchanged and
refreshed on B, the logout happens on B and the session is gone on A.
"""

from __future__ import annotations

import json
import re
import uuid
from contextlib import ExitStack
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.conftest import make_person, pkce_pair
from tests.live import LiveProvider, free_port, new_database

pytestmark = pytest.mark.usefixtures("postgres_url")  # skips without PostgreSQL/Redis


class SharedNode(LiveProvider):
    """A LiveProvider whose config points at a shared PostgreSQL database and Redis."""

    def __init__(self, directory, database_url: str, prefix: str, issuer: str, port: int):
        self.database_url, self.prefix = database_url, prefix
        self.issuer, self.port = issuer, port
        super().__init__(directory, workers=2, threads=2)

    def _config_text(self) -> str:
        return (
            "[server]\n"
            f'issuer = "{self.issuer}"\nport = {self.port}\nworkers = 2\nthreads = 2\n'
            'secret_key = "two-node-secret-key-0123456789abcdef"\n'
            'pairwise_salt = "two-node-pairwise-salt"\n'
            f'[database]\nurl = "{self.database_url}"\n'
            f'[state]\nbackend = "redis"\nredis_url = "redis://127.0.0.1:6379/13"\n'
            f'key_prefix = "{self.prefix}"\n'
            '[keys]\npassphrase = "two-node-passphrase"\n'
            '[session]\ncookie_secure = false\n'
            '[passwords]\nmemory_kib = 8192\ntime_cost = 1\n'
            f'[sms]\noutbox_path = "{self.directory.parent / "sms.jsonl"}"\n'
        )


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    with ExitStack() as started:  # what did start stops, also when a later part fails
        url = started.enter_context(new_database("idp_2n"))
        root = tmp_path_factory.mktemp("two-nodes")
        port_a, port_b = free_port(), free_port()
        issuer = f"http://127.0.0.1:{port_a}"  # the public URL; a load balancer would own it
        prefix = f"idp2n:{uuid.uuid4().hex[:6]}:"
        a = SharedNode(_dir(root, "a"), url, prefix, issuer, port_a)
        b = SharedNode(_dir(root, "b"), url, prefix, issuer, port_b)
        portal = a.add_portal("two-node-portal", "http://127.0.0.1:9")
        person = make_person(7)
        a.add_account({k: getattr(person, k) for k in
                       ("cccd", "full_name", "birthdate", "gender", "phone", "email")},
                      person.password)
        for node in (a, b):
            started.callback(node.stop)
            node.start()
        yield a, b, portal, person


def _dir(root, name):
    path = root / name
    path.mkdir()
    return path


def _node(url: str, node: SharedNode) -> str:
    """Send a provider URL (absolute or relative) to the given node."""
    parts = urlsplit(url)
    return f"{node.url}{parts.path}" + (
        f"?{parts.query}" if parts.query else "")


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _otp(node: SharedNode) -> str:
    lines = (node.directory.parent / "sms.jsonl").read_text().splitlines()
    return re.search(r"\b(\d{6})\b", json.loads(lines[-1])["text"]).group(1)


def test_login_across_nodes_then_logout_everywhere(nodes):
    a, b, portal, person = nodes
    browser = requests.Session()
    verifier, challenge = pkce_pair()
    redirect_uri = portal.base_url + "/callback"
    authorize = {"response_type": "code", "client_id": portal.client_id,
                 "redirect_uri": redirect_uri, "scope": "openid profile offline_access",
                 "state": "s-2n", "nonce": "n-2n", "code_challenge": challenge,
                 "code_challenge_method": "S256"}

    # Node A: the portal's redirect and the password step.
    step = browser.get(_node("/authorize", a), params=authorize, allow_redirects=False)
    login = _node(step.headers["Location"], a)
    tx = parse_qs(urlsplit(login).query)["tx"][0]
    page = browser.get(login)
    step = browser.post(_node("/login", a), data={"csrf_token": _csrf(page.text), "tx": tx,
                                                 "cccd": person.cccd,
                                                 "password": person.password},
                        allow_redirects=False)
    assert step.status_code == 303, step.text

    # Node B: the OTP and the consent page; node A: the consent, which answers the portal.
    page = browser.get(_node(step.headers["Location"], b))
    assert page.status_code == 200, re.findall(r'role="alert"[^>]*>([^<]+)', page.text)
    step = browser.post(_node("/login/otp", b), data={"csrf_token": _csrf(page.text), "tx": tx,
                                                     "otp": _otp(a)}, allow_redirects=False)
    assert step.status_code == 303, step.text
    consent = _node(step.headers["Location"], b)
    page = browser.get(consent)
    step = browser.post(_node("/consent", a), data={"csrf_token": _csrf(page.text), "tx": tx,
                                                   "decision": "allow"}, allow_redirects=False)
    assert step.status_code == 303, step.text
    code = parse_qs(urlsplit(step.headers["Location"]).query)["code"][0]

    # Code exchanged on node B, refreshed on node A, refreshed again on B.
    auth = (portal.client_id, portal.secret)
    tokens = requests.post(_node("/token", b), auth=auth, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "code_verifier": verifier}).json()
    assert "id_token" in tokens, tokens
    session_id_token = tokens["id_token"]  # refreshed offline ID tokens carry no sid
    for node in (a, b):
        refreshed = requests.post(_node("/token", node), auth=auth, data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        tokens = refreshed.json()
    info = requests.get(_node("/userinfo", a),
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.json()["name"] == person.full_name

    # Logout on node B; node A no longer knows the session.
    out = browser.get(_node("/logout", b), params={"id_token_hint": session_id_token},
                      allow_redirects=False)
    assert out.status_code == 200 and "đã đăng xuất" in out.text
    again = browser.get(_node("/authorize", a), params={**authorize, "prompt": "none"},
                        allow_redirects=False)
    assert "error=login_required" in again.headers["Location"]


def test_nodes_report_ready(nodes):
    a, b, *_ = nodes
    for node in (a, b):
        checks = requests.get(_node("/readyz", node)).json()["checks"]
        assert checks["database"] == checks["state"] == checks["signing_keys"] == "ok"


def test_parallel_password_steps_on_both_nodes_send_no_more_codes_than_the_phone_limit(nodes):
    """Twelve browsers pass the password step at once, spread over both nodes and their
    workers: the phone's login codes (sms.login.phone, 6 per hour) are counted in the shared
    state store, so exactly six SMS reach it, and every other browser is told so on the code
    page instead of an error."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    a, b, portal, _ = nodes
    person = make_person(8)
    a.add_account({k: getattr(person, k) for k in
                   ("cccd", "full_name", "birthdate", "gender", "phone", "email")},
                  person.password)
    ready = Barrier(12)

    def password_step(n: int) -> int:
        node = (a, b)[n % 2]
        browser = requests.Session()
        verifier, challenge = pkce_pair()
        step = browser.get(_node("/authorize", node), allow_redirects=False, params={
            "response_type": "code", "client_id": portal.client_id, "scope": "openid",
            "redirect_uri": portal.base_url + "/callback", "state": f"s{n}", "nonce": f"n{n}",
            "code_challenge": challenge, "code_challenge_method": "S256"})
        login = _node(step.headers["Location"], node)
        page = browser.get(login)
        ready.wait(timeout=30)
        step = browser.post(_node("/login", node), allow_redirects=False, data={
            "csrf_token": _csrf(page.text), "tx": parse_qs(urlsplit(login).query)["tx"][0],
            "cccd": person.cccd, "password": person.password})
        return step.status_code

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(password_step, range(12)))
    assert answers == [303] * 12  # every password passed; the code page says the rest
    outbox = (a.directory.parent / "sms.jsonl").read_text().splitlines()
    codes = [line for line in outbox if json.loads(line)["to"] == person.phone]
    assert len(codes) == 6
