"""Session fixation through the browser id: a login started in an attacker's browser and
finished by the citizen in theirs (with the attacker's browser id planted) gives the
attacker's browser nothing."""

from __future__ import annotations

from tests.conftest import HttpsClient, csrf_from, last_otp, query

BROWSER_COOKIE = "__Host-idp_browser"


def _other_browser(app):
    app.test_client_class = HttpsClient
    return app.test_client()


def test_planted_browser_id_gets_nothing_from_the_citizens_login(app, flow, make_account,
                                                                  settings):
    _, person = make_account()
    attacker = flow.browser
    response, verifier, state, _ = flow.authorize()
    location = response.headers["Location"]
    tx = query(location)["tx"]
    planted = attacker.get_cookie(BROWSER_COOKIE, domain="sso.test").value

    # The citizen's browser carries the attacker's id and opens the attacker's login link.
    citizen = _other_browser(app)
    citizen.set_cookie(BROWSER_COOKIE, planted, domain="sso.test", path="/")
    flow.browser = citizen
    response = flow.submit_password(location, person.cccd, person.password)
    assert response.status_code == 303
    assert citizen.get_cookie(BROWSER_COOKIE, domain="sso.test").value != planted
    response = flow.submit_otp(tx, last_otp(settings))
    assert response.status_code == 303
    assert citizen.get_cookie(BROWSER_COOKIE, domain="sso.test").value != planted

    # The attacker's browser, still holding the planted id, can neither answer the consent
    # nor pick up the answer to the portal.
    for path in (f"/consent?tx={tx}", f"/authorize/resume?tx={tx}", f"/login/otp?tx={tx}"):
        answer = attacker.get(path)
        assert answer.status_code == 400, path
        assert "code=" not in answer.headers.get("Location", "")
    page = attacker.get("/login", query_string={"tx": tx})
    assert page.status_code == 400
    assert attacker.post("/consent", data={"tx": tx, "decision": "allow"}).status_code == 400

    # The citizen's own browser goes on to the portal as usual.
    location = response.headers["Location"]
    if "/consent" in location:
        consent_page = citizen.get(location)
        response = citizen.post("/consent", data={
            "csrf_token": csrf_from(consent_page.get_data(as_text=True)), "tx": tx,
            "decision": "allow"})
        location = response.headers["Location"]
    assert location.startswith(flow.portal.redirect_uri)
    assert query(location)["state"] == state and "code" in query(location)


def test_password_step_moves_the_login_to_a_new_browser_id(flow, make_account, browser):
    _, person = make_account()
    response, *_ = flow.authorize()
    location = response.headers["Location"]
    before = browser.get_cookie(BROWSER_COOKIE, domain="sso.test").value
    flow.submit_password(location, person.cccd, person.password)
    assert browser.get_cookie(BROWSER_COOKIE, domain="sso.test").value != before


def test_cookie_without_the_host_prefix_is_ignored_on_https(flow, browser):
    """A sibling domain can set `idp_browser` for the parent domain, never `__Host-…`."""
    browser.set_cookie("idp_browser", "a" * 32, domain=".sso.test", path="/")
    flow.authorize()
    assert browser.get_cookie(BROWSER_COOKIE, domain="sso.test").value != "a" * 32
