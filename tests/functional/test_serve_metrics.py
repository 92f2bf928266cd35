"""`idp serve` under gunicorn with two worker processes: /metrics adds up what every worker
counted, and the access log writes one JSON line per request, secrets masked."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import make_person
from tests.live import LiveProvider, http_login

HEALTH_REQUESTS = 120


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text `text` (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    node = LiveProvider(tmp_path_factory.mktemp("serve-metrics"), workers=2, threads=2,
                        extra_config='[session]\ncookie_secure = false\n'
                                     '[logging]\naccess_log = true\n')
    portal = node.add_portal("metrics-portal", "http://127.0.0.1:9")
    person = make_person(31)
    node.add_account({k: getattr(person, k) for k in
                      ("cccd", "full_name", "birthdate", "gender", "phone", "email")},
                     person.password)
    node.start()
    try:
        yield node, portal, person
    finally:
        node.stop()


def _access_lines(node: LiveProvider) -> list[dict]:
    lines = []
    for line in (node.directory / "idp.log").read_text().splitlines():
        if line.startswith("{") and '"logger": "idp.access"' in line:
            lines.append(json.loads(line))
    return lines


def test_metrics_add_up_both_workers(served):
    node, portal, person = served
    for _ in range(2):
        tokens = http_login(node.url, portal, person.cccd, person.password,
                            lambda: node.last_otp(person.phone))
        assert "id_token" in tokens

    def health(_n: int) -> int:
        # A new connection each time, so the kernel hands them to both workers.
        return requests.get(node.url + "/healthz", timeout=10).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(health, range(HEALTH_REQUESTS))) == {200}

    workers = {line["pid"] for line in _access_lines(node) if line["path"] == "/healthz"}
    assert len(workers) == 2, f"one worker served every request: {workers}"

    text = requests.get(node.url + "/metrics", timeout=10).text
    assert _sample(text, "idp_http_requests_total", endpoint="ops.healthz", method="GET",
                   status="200") == HEALTH_REQUESTS
    assert _sample(text, "idp_logins_total", step="login", result="success") == 2
    assert _sample(text, "idp_http_requests_total", endpoint="login.password", method="POST",
                   status="303") == 2
    assert _sample(text, "idp_http_request_duration_seconds_count",
                   endpoint="oidc.token") == 2
    # The gauges read from the database at the scrape, the back-channel backlog among
    # them (registered by the oidc package when each worker builds its app).
    assert "idp_stored_state_up 1.0" in text
    assert _sample(text, "idp_signing_key_age_seconds", alg="ES256") > 0
    assert "# TYPE idp_backchannel_deliveries gauge" in text


def test_refreshes_are_counted_and_logged_by_every_worker(served):
    """The plain refresh is answered in front of Flask (idp/oidc/plain_refresh.py): under
    gunicorn, each worker still counts it in /metrics and writes its access-log line."""
    node, portal, person = served

    def token_answers() -> float:
        return _sample(requests.get(node.url + "/metrics", timeout=10).text,
                       "idp_http_requests_total", endpoint="oidc.token", method="POST",
                       status="200")

    before = token_answers()
    chains = [http_login(node.url, portal, person.cccd, person.password,
                         lambda: node.last_otp(person.phone))["refresh_token"]
              for _ in range(2)]

    def refresh_chain(token: str) -> int:
        for _ in range(10):  # a new connection each time: both workers take some
            answer = requests.post(node.url + "/token", auth=(portal.client_id, portal.secret),
                                   data={"grant_type": "refresh_token", "refresh_token": token},
                                   timeout=10)
            assert answer.status_code == 200, answer.text
            token = answer.json()["refresh_token"]
        return 10

    with ThreadPoolExecutor(2) as pool:
        assert sum(pool.map(refresh_chain, chains)) == 20
    assert token_answers() == before + 2 + 20  # two code exchanges, twenty refreshes
    refreshed = [line for line in _access_lines(node)
                 if line["path"] == "/token" and line["status"] == 200]
    assert len({line["pid"] for line in refreshed}) == 2, "one worker answered every refresh"


def test_access_log_masks_query_values(served):
    node, portal, _person = served
    requests.get(node.url + "/authorize", timeout=10, params={
        "client_id": portal.client_id, "response_type": "code", "scope": "openid",
        "state": "secret-state-value", "login_hint": "001085000031",
        "redirect_uri": "http://127.0.0.1:9/callback"}, allow_redirects=False,
        headers={"X-Request-ID": "access-log-check-1"})
    line = next(line for line in _access_lines(node)
                if line.get("request_id") == "access-log-check-1")
    assert line["method"] == "GET" and line["path"] == "/authorize"
    assert "client_id=metrics-portal" in line["query"] and "scope=openid" in line["query"]
    assert "secret-state-value" not in json.dumps(line)
    assert "001085000031" not in json.dumps(line) and "state=-" in line["query"]
    assert line["status"] in (302, 400) and line["ms"] > 0
