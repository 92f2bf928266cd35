"""Operations: health, readiness, metrics, request ids, JSON logs, failing closed."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import event

from idp.ops.logs import JsonFormatter, scrub
from tests.conftest import ISSUER, Flow, config, last_otp, make_settings, query, went_on


def test_healthz_and_readyz(browser):
    assert browser.get("/healthz").get_json() == {"status": "ok"}
    ready = browser.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json()["status"] == "ready"
    assert set(ready.get_json()["checks"]) == {"database", "state", "signing_keys", "carrier",
                                               "bhxh", "post"}


def test_readyz_keeps_the_node_in_when_an_outside_registry_is_down(settings_for):
    from idp import create_app

    settings = settings_for(carrier={"url": "http://127.0.0.1:9"})
    response = create_app(settings).test_client().get("/readyz")
    # Down for every node alike: taking them all out would stop password logins too.
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["carrier"].startswith("unavailable")
    assert body["checks"]["database"] == body["checks"]["signing_keys"] == "ok"


def test_readyz_takes_the_node_out_when_its_state_store_is_down(settings_for):
    from idp import create_app

    settings = settings_for(state={"backend": "redis", "redis_url": "redis://127.0.0.1:9/0"})
    response = create_app(settings).test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["state"].startswith("unavailable") and body["checks"]["database"] == "ok"


@config(server={"threads": 1})
def test_logins_reuse_the_pooled_database_connections(flow, make_account, provider):
    """A request holds its session's connection while the audit trail commits on another:
    with a pool of one per thread, every login opened (and closed) new connections."""
    _, person = make_account()
    flow.exchange(flow.login(person))  # the pool fills once
    opened = []
    event.listen(provider.db.engine, "connect", lambda *_args: opened.append(1))
    for _ in range(3):
        tokens = flow.exchange(flow.login(person, prompt="login"))
        assert tokens.status_code == 200, tokens.get_json()
    assert opened == []


def test_metrics_count_requests_and_logins(flow, make_account, browser):
    _, person = make_account()
    flow.login(person)
    text = browser.get("/metrics").get_data(as_text=True)
    assert 'idp_logins_total{result="success",step="login"}' in text
    assert 'idp_otp_total{event="send",result="success"}' in text
    assert 'idp_http_requests_total{endpoint="login.password",method="POST",status="303"}' in text


def test_request_id_is_echoed_or_made(browser):
    given = browser.get("/healthz", headers={"X-Request-ID": "lb-1234abcd"})
    assert given.headers["X-Request-ID"] == "lb-1234abcd"
    made = browser.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["X-Request-ID"] != "bad id with spaces"


def test_json_log_lines_mask_identifiers(app):
    record = logging.LogRecord("idp", logging.INFO, __file__, 1,
                               "lookup of 001085012345 from 0912345678", None, None)
    with app.test_request_context("/", headers={"X-Request-ID": "req-12345678"}):
        app.preprocess_request()
        line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-12345678"
    assert "001085012345" not in line["message"] and "0912345678" not in line["message"]
    assert scrub("+84912345678") != "+84912345678"


@pytest.fixture
def cut_backends(tmp_path, simulators, request):
    """A provider on PostgreSQL + Redis reached through proxies the test can cut."""
    from tests.proxy import TcpProxy

    url = request.getfixturevalue("postgres_url")
    pg, redis = TcpProxy(5432), TcpProxy(6379)
    settings = make_settings(
        tmp_path, url.replace(":5432/", f":{pg.port}/"), "redis",
        state={"redis_url": f"redis://127.0.0.1:{redis.port}/15"},
        **{name: {"url": sim.url} for name, sim in simulators.items()},
    )
    yield settings, pg, redis
    pg.cut()
    redis.cut()


@pytest.mark.parametrize("backend", ["postgresql+redis"], indirect=False)
def test_redis_down_fails_closed_then_recovers(cut_backends, make_portal, make_account):
    from idp import create_app

    settings, _pg, redis = cut_backends
    app = create_app(settings)
    from tests.conftest import HttpsClient

    app.test_client_class = HttpsClient
    browser = app.test_client()
    portal = make_portal()
    _, person = make_account()
    flow = Flow(browser, settings, portal)
    response, *_ = flow.authorize()
    location = response.headers["Location"]
    tx = query(location)["tx"]
    assert flow.submit_password(location, person.cccd, person.password).status_code == 303
    code = last_otp(settings)

    redis.cut()
    page = browser.get("/login/otp", query_string={"tx": tx})
    assert page.status_code == 503
    assert "tạm thời" in page.get_data(as_text=True)
    refused = browser.post("/login/otp", data={"tx": tx, "otp": code, "csrf_token": "x"})
    assert refused.status_code in (400, 503)  # never a login

    redis.restore()
    done = flow.submit_otp(tx, code)
    assert went_on(done, flow.portal), done.headers.get("Location")
    assert ISSUER


@pytest.mark.parametrize("backend", ["postgresql+redis"], indirect=False)
def test_database_down_answers_503_then_recovers(cut_backends, make_portal):
    from idp import create_app

    settings, pg, _redis = cut_backends
    app = create_app(settings)
    client = app.test_client()
    portal = make_portal()
    body = {"grant_type": "refresh_token", "refresh_token": "x" * 43}
    auth = (portal.client_id, portal.secret)
    import base64

    header = {"Authorization": "Basic " + base64.b64encode(":".join(auth).encode()).decode()}
    assert client.post("/token", data=body, headers=header).status_code == 400
    pg.cut()
    down = client.post("/token", data=body, headers=header)
    assert down.status_code == 503 and down.get_json()["error"] == "temporarily_unavailable"
    pg.restore()
    assert client.post("/token", data=body, headers=header).status_code == 400
