"""RP-initiated logout and back-channel logout.

Back-channel deliveries go to a real HTTP server started here on 127.0.0.1, which records
each POSTed logout token; the tokens are checked with the provider's published JWKS.
"""

from __future__ import annotations

import socket
import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp.store.models import AuditEvent
from tests.conftest import ISSUER, Flow, config, csrf_from, query
from tests.receiver import Receiver

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- helpers ---------------------------------------------------------------------------


def jwks(browser) -> KeySet:
    return KeySet.import_key_set(browser.get("/jwks").get_json())


def login_tokens(login_flow, person, **params) -> dict:
    auth = login_flow.login(person, **params)
    response = login_flow.exchange(auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def session_alive(login_flow) -> bool:
    """prompt=none answers with a code only while the SSO session lives."""
    response, *_ = login_flow.authorize(prompt="none")
    params = query(response.headers["Location"])
    if "code" in params:
        return True
    assert params["error"] == "login_required", params
    return False


def audit(provider, event: str) -> list[AuditEvent]:
    with provider.db.sessions() as session:
        return list(session.scalars(
            select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)))


def wait_for_audit(provider, event: str, count: int, timeout: float = 5.0) -> list[AuditEvent]:
    deadline = time.monotonic() + timeout
    rows = audit(provider, event)
    while len(rows) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        rows = audit(provider, event)
    return rows


def tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = ("A" if signature[5] != "A" else "B")
    return ".".join([header, payload, signature[:5] + flipped + signature[6:]])


# --- RP-initiated logout -----------------------------------------------------------------


def test_logout_with_hint_redirects_with_state_and_ends_the_session(flow, make_account,
                                                                    browser, provider):
    _, person = make_account()
    tokens = login_tokens(flow, person)
    assert session_alive(flow)
    response = browser.get("/logout", query_string={
        "id_token_hint": tokens["id_token"],
        "post_logout_redirect_uri": flow.portal.post_logout_uri, "state": "bye-123",
    })
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(flow.portal.post_logout_uri)
    assert query(location) == {"state": "bye-123"}
    cleared = [h for h in response.headers.getlist("Set-Cookie")
               if h.startswith("__Host-idp_session=")]
    assert cleared and ("Max-Age=0" in cleared[0] or "expires=Thu, 01 Jan 1970" in cleared[0])
    assert not session_alive(flow)
    rows = audit(provider, "logout")
    assert rows and rows[-1].result == "success" and rows[-1].client_id == flow.portal.client_id


def test_logout_by_post_with_hint(flow, make_account, browser):
    _, person = make_account()
    tokens = login_tokens(flow, person)
    response = browser.post("/logout", data={
        "id_token_hint": tokens["id_token"],
        "post_logout_redirect_uri": flow.portal.post_logout_uri,
    })
    assert response.status_code == 303
    assert response.headers["Location"] == flow.portal.post_logout_uri
    assert not session_alive(flow)


def test_unregistered_post_logout_uri_is_not_followed(flow, make_account, browser):
    _, person = make_account()
    tokens = login_tokens(flow, person)
    response = browser.get("/logout", query_string={
        "id_token_hint": tokens["id_token"],
        "post_logout_redirect_uri": "https://evil.test/", "state": "s",
    })
    assert "Location" not in response.headers
    assert response.status_code == 200
    assert "evil.test" not in response.get_data(as_text=True)
    assert not session_alive(flow)  # the logout itself happened


def test_tampered_hint_is_refused_without_redirect(flow, make_account, browser):
    _, person = make_account()
    tokens = login_tokens(flow, person)
    response = browser.get("/logout", query_string={
        "id_token_hint": tamper(tokens["id_token"]),
        "post_logout_redirect_uri": flow.portal.post_logout_uri, "state": "s",
    })
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "Bạn chưa bị đăng xuất" in response.get_data(as_text=True)
    assert session_alive(flow)


def test_hint_for_another_client_id_is_refused(flow, make_account, make_portal, browser):
    _, person = make_account()
    tokens = login_tokens(flow, person)
    other = make_portal("portal-b")
    response = browser.get("/logout", query_string={
        "id_token_hint": tokens["id_token"], "client_id": other.client_id,
        "post_logout_redirect_uri": other.post_logout_uri,
    })
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert session_alive(flow)


def test_logout_without_hint_asks_for_confirmation(flow, make_account, browser):
    _, person = make_account()
    login_tokens(flow, person)
    page = browser.get("/logout", query_string={
        "client_id": flow.portal.client_id,
        "post_logout_redirect_uri": flow.portal.post_logout_uri, "state": "st-9",
    })
    assert page.status_code == 200
    assert "Location" not in page.headers
    html = page.get_data(as_text=True)
    assert 'id="confirm"' in html and 'action="/logout"' in html
    assert session_alive(flow)  # nothing happened yet

    response = browser.post("/logout", data={
        "csrf_token": csrf_from(html), "confirm": "yes", "client_id": flow.portal.client_id,
        "post_logout_redirect_uri": flow.portal.post_logout_uri, "state": "st-9",
    })
    assert response.status_code == 303
    assert response.headers["Location"] == flow.portal.post_logout_uri + "?state=st-9"
    assert not session_alive(flow)


def test_confirmed_logout_without_redirect_shows_the_logged_out_page(flow, make_account,
                                                                     browser):
    _, person = make_account()
    login_tokens(flow, person)
    html = browser.get("/logout").get_data(as_text=True)
    response = browser.post("/logout", data={"csrf_token": csrf_from(html), "confirm": "yes"})
    assert response.status_code == 200
    assert 'id="logged-out"' in response.get_data(as_text=True)
    assert not session_alive(flow)


def test_confirmation_without_csrf_token_is_refused(flow, make_account, browser):
    _, person = make_account()
    login_tokens(flow, person)
    browser.get("/logout")
    response = browser.post("/logout", data={
        "confirm": "yes", "client_id": flow.portal.client_id,
        "post_logout_redirect_uri": flow.portal.post_logout_uri,
    })
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "Yêu cầu xác nhận đăng xuất không hợp lệ" in response.get_data(as_text=True)
    forged = browser.post("/logout", data={"confirm": "yes", "csrf_token": "forged"})
    assert forged.status_code == 400
    assert session_alive(flow)


def test_post_without_confirm_only_asks_again(flow, make_account, browser):
    _, person = make_account()
    login_tokens(flow, person)
    response = browser.post("/logout", data={"client_id": flow.portal.client_id})
    assert response.status_code == 200
    assert 'id="confirm"' in response.get_data(as_text=True)
    assert session_alive(flow)


# --- back-channel logout -----------------------------------------------------------------


def test_backchannel_logout_reaches_every_portal_of_the_session(
    make_portal, make_account, browser, settings, provider, receiver
):
    portal_a = make_portal("portal-a", backchannel_logout_uri=receiver.uri("/a/backchannel"))
    portal_b = make_portal("portal-b", backchannel_logout_uri=receiver.uri("/b/backchannel"))
    make_portal("portal-c", backchannel_logout_uri=receiver.uri("/c/backchannel"))  # unused
    flow_a, flow_b = Flow(browser, settings, portal_a), Flow(browser, settings, portal_b)
    _, person = make_account()
    tokens_a = login_tokens(flow_a, person)
    tokens_b = login_tokens(flow_b, person)  # SSO: consent only
    keys = jwks(browser)
    id_a = jwt.decode(tokens_a["id_token"], keys).claims
    id_b = jwt.decode(tokens_b["id_token"], keys).claims
    assert id_a["sid"] == id_b["sid"]

    response = browser.get("/logout", query_string={
        "id_token_hint": tokens_a["id_token"],
        "post_logout_redirect_uri": portal_a.post_logout_uri,
    })
    assert response.status_code == 302

    posts = receiver.wait_for(2)
    assert sorted(path for path, _ in posts) == ["/a/backchannel", "/b/backchannel"]
    time.sleep(0.1)
    assert len(receiver.posts) == 2  # portal C was never used in this session
    expected = {"/a/backchannel": (portal_a, id_a), "/b/backchannel": (portal_b, id_b)}
    jtis = set()
    for path, form in posts:
        portal, id_claims = expected[path]
        token = jwt.decode(form["logout_token"], keys, algorithms=["RS256", "ES256"])
        assert token.header["typ"] == "logout+jwt"
        claims = token.claims
        assert claims["iss"] == ISSUER
        assert claims["aud"] == portal.client_id
        assert claims["sid"] == id_claims["sid"]
        assert claims["sub"] == id_claims["sub"]
        assert claims["events"] == {BACKCHANNEL_EVENT: {}}
        assert "nonce" not in claims
        assert claims["iat"] <= time.time() + 5 < claims["exp"] + 5
        jtis.add(claims["jti"])
    assert len(jtis) == 2

    rows = wait_for_audit(provider, "logout.backchannel", 2)
    assert sorted((row.client_id, row.result) for row in rows) == [
        ("portal-a", "success"), ("portal-b", "success")]


def test_confirmed_logout_also_notifies_portals(make_portal, make_account, browser, settings,
                                                provider, receiver):
    portal = make_portal("portal-a", backchannel_logout_uri=receiver.uri("/bc"))
    flow_a = Flow(browser, settings, portal)
    _, person = make_account()
    login_tokens(flow_a, person)
    html = browser.get("/logout").get_data(as_text=True)
    browser.post("/logout", data={"csrf_token": csrf_from(html), "confirm": "yes"})
    posts = receiver.wait_for(1)
    assert [path for path, _ in posts] == ["/bc"]
    wait_for_audit(provider, "logout.backchannel", 1)


def test_unreachable_portal_does_not_block_logout(make_portal, make_account, browser,
                                                  settings, provider, receiver):
    dead = make_portal("portal-dead",
                       backchannel_logout_uri=f"http://127.0.0.1:{closed_port()}/bc")
    alive = make_portal("portal-ok", backchannel_logout_uri=receiver.uri("/bc"))
    _, person = make_account()
    tokens = login_tokens(Flow(browser, settings, dead), person)
    login_tokens(Flow(browser, settings, alive), person)

    started = time.monotonic()
    response = browser.get("/logout", query_string={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": dead.post_logout_uri,
    })
    assert time.monotonic() - started < 1.0
    assert response.status_code == 302

    rows = wait_for_audit(provider, "logout.backchannel", 2)
    results = {row.client_id: row for row in rows}
    assert results["portal-dead"].result == "failure"
    assert results["portal-dead"].detail.get("error")
    assert results["portal-ok"].result == "success"
    assert len(receiver.posts) == 1


@config(logout={"backchannel_timeout": 1})
def test_slow_portal_does_not_block_logout(make_portal, make_account, browser, settings,
                                           provider):
    slow = Receiver(delay=3)
    try:
        portal = make_portal("portal-slow", backchannel_logout_uri=slow.uri("/bc"))
        slow_flow = Flow(browser, settings, portal)
        _, person = make_account()
        tokens = login_tokens(slow_flow, person)
        started = time.monotonic()
        response = browser.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
        assert time.monotonic() - started < 0.9  # less than the delivery timeout
        assert response.status_code == 200
        assert not session_alive(slow_flow)
        rows = wait_for_audit(provider, "logout.backchannel", 1, timeout=5)
        assert rows[-1].result == "failure"
        assert rows[-1].detail.get("error") == "ReadTimeout"
    finally:
        slow.close()
