"""Durable back-channel logout: each delivery is a database row, retried with backoff by
whichever node's dispatcher claims it, with the same `jti` every time, until the portal
answers 200; given up after a while, then listed for the operator and queued again on
request. Tests drive the dispatcher's rounds (`deliver_due`) themselves."""

from __future__ import annotations

import time

from joserfc import jwt
from sqlalchemy import select, update

from idp.oidc.backchannel import deliver_due
from idp.oidc.deliveries import backlog, claim_due, retry_failed
from idp.store.models import BackchannelDelivery
from tests.conftest import Flow, config
from tests.functional.test_logout import audit, closed_port, jwks, login_tokens
from tests.receiver import Receiver

FAST_RETRIES = {"backchannel_retry_first": 1, "backchannel_retry_max": 1}


def _rows(provider) -> list[BackchannelDelivery]:
    with provider.db.sessions() as session:
        return list(session.scalars(select(BackchannelDelivery).order_by(BackchannelDelivery.id)))


def _log_out(browser, settings, portal, person) -> None:
    tokens = login_tokens(Flow(browser, settings, portal), person)
    response = browser.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    assert response.status_code == 200


def _make_due(provider) -> None:
    """As if the backoff had passed (the test does not wait for it)."""
    with provider.db.engine.begin() as connection:
        connection.execute(update(BackchannelDelivery).values(next_attempt_at=time.time() - 1))


@config(logout=FAST_RETRIES)
def test_a_portal_that_was_down_gets_the_same_logout_when_it_is_back(
        app, provider, make_portal, make_account, browser, settings):
    portal_side = Receiver(status=503)
    try:
        portal = make_portal("portal-back", backchannel_logout_uri=portal_side.uri("/bc"))
        _, person = make_account()
        _log_out(browser, settings, portal, person)
        assert len(portal_side.wait_for(1)) == 1  # the first attempt, at once: 503
        deadline = time.monotonic() + 5
        while not (_rows(provider) and _rows(provider)[0].attempts == 1):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        [row] = _rows(provider)
        assert row.state == "pending" and row.last_error == "HTTP 503"
        assert row.next_attempt_at > time.time()
        assert deliver_due(app) == 0  # not due yet: no node tries it early

        portal_side.status = 200
        _make_due(provider)
        assert deliver_due(app) == 1
        assert _rows(provider) == []
        first, second = (jwt.decode(form["logout_token"], jwks(browser)).claims
                         for _, form in portal_side.posts)
        assert first["jti"] == second["jti"] and first["sid"] == second["sid"]
        assert second["exp"] > time.time()
        outcomes = [(r.result, r.detail["attempts"]) for r in audit(provider, "logout.backchannel")]
        assert outcomes == [("failure", 1), ("success", 2)]
    finally:
        portal_side.close()


@config(logout={**FAST_RETRIES, "backchannel_give_up_after": 1})
def test_a_delivery_given_up_is_listed_then_queued_again(
        app, provider, make_portal, make_account, browser, settings):
    portal = make_portal("portal-gone",
                         backchannel_logout_uri=f"http://127.0.0.1:{closed_port()}/bc")
    _, person = make_account()
    _log_out(browser, settings, portal, person)
    time.sleep(1.1)  # past give_up_after
    _make_due(provider)
    deadline = time.monotonic() + 5
    while deliver_due(app) == 0 and _rows(provider)[0].state != "failed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [row] = _rows(provider)
    assert row.state == "failed" and row.last_error == "ConnectionError"
    [listed] = backlog(provider.db.engine)
    assert (listed.client_id, listed.pending, listed.failed) == ("portal-gone", 0, 1)
    text = browser.get("/metrics").get_data(as_text=True)
    assert 'idp_backchannel_deliveries{client_id="portal-gone",state="failed"} 1.0' in text
    assert 'idp_backchannel_logout_total{result="abandoned"}' in text
    gave_up = audit(provider, "logout.backchannel")[-1]
    assert gave_up.result == "failure" and gave_up.detail["will_retry"] is False

    assert claim_due(provider.db.engine, 10, 30) == []  # failed rows are not retried
    assert retry_failed(provider.db.engine, "portal-gone", 3600) == 1
    assert [r.state for r in _rows(provider)] == ["pending"]


@config(logout=FAST_RETRIES)
def test_a_claimed_delivery_is_not_claimed_again_by_another_node(
        app, provider, make_portal, make_account, browser, settings):
    portal = make_portal("portal-x", backchannel_logout_uri=f"http://127.0.0.1:{closed_port()}/bc")
    _, person = make_account()
    _log_out(browser, settings, portal, person)
    time.sleep(0.3)  # the first attempt fails at once (connection refused)
    _make_due(provider)
    engine = provider.db.engine
    assert len(claim_due(engine, 10, 30)) == 1
    assert claim_due(engine, 10, 30) == []  # leased to the first claimer


@config(logout=FAST_RETRIES)
def test_a_failing_portal_is_tried_once_per_round(
        app, provider, make_portal, make_account, browser, settings):
    portal_side = Receiver(status=503)
    try:
        portal = make_portal("portal-busy", backchannel_logout_uri=portal_side.uri("/bc"))
        for n in range(3):
            _, person = make_account(n=40 + n)
            _log_out(browser, settings, portal, person)
        portal_side.wait_for(3)
        time.sleep(0.3)
        _make_due(provider)
        assert deliver_due(app) == 3
        assert len(portal_side.posts) == 4  # one probe, the other two put off with it
        retries = sorted(row.next_attempt_at for row in _rows(provider))
        assert retries[0] > time.time() and retries[-1] - retries[0] < 1.5
    finally:
        portal_side.close()
