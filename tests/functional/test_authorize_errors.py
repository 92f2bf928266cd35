"""The authorization endpoint's refusals, prompts and levels, and what every page carries.

An error is sent back to the portal only once its redirect URI is proven (registered
for that client); otherwise the citizen sees a Vietnamese page and is not redirected.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import urlencode

from tests.conftest import ISSUER, Flow, HttpsClient, csrf_from, last_otp, query

EXPIRED_INTERACTION = "Phiên đăng nhập đã hết hạn hoặc không hợp lệ"
INVALID_REQUEST_PAGE = "Yêu cầu đăng nhập từ cổng dịch vụ không hợp lệ"


def assert_error_page(response, status: int = 400) -> str:
    assert response.status_code == status
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def assert_error_redirect(response, portal, state: str, error: str) -> dict:
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(portal.redirect_uri + "?"), location
    params = query(location)
    assert params["error"] == error, params
    assert params["state"] == state
    assert params["iss"] == ISSUER
    assert "code" not in params
    return params


def logged_in(flow, make_account):
    """A browser with a live SSO session (and consent for the flow's portal)."""
    _, person = make_account()
    flow.login(person)
    return person


# --- requests that cannot be answered to the portal ------------------------------------


def test_unregistered_redirect_uri_gets_a_page_not_a_redirect(flow):
    response, *_ = flow.authorize(redirect_uri="https://evil.test/callback")
    html = assert_error_page(response)
    assert INVALID_REQUEST_PAGE in html
    assert "evil.test" not in response.headers.get("Location", "")


def test_redirect_uri_must_match_exactly(flow):
    registered = flow.portal.redirect_uri
    for uri in (registered + "/", registered + "?x=1", registered.upper(),
                registered.replace("https", "http")):
        response, *_ = flow.authorize(redirect_uri=uri)
        assert_error_page(response)


def test_unknown_client_gets_a_page(flow):
    response, *_ = flow.authorize(client_id="no-such-portal")
    html = assert_error_page(response)
    assert INVALID_REQUEST_PAGE in html


def test_missing_client_id_gets_a_page(flow):
    response, *_ = flow.authorize(client_id=None)
    assert_error_page(response)


# --- errors sent back to the registered redirect URI -----------------------------------


def test_missing_pkce_is_redirected_as_invalid_request(flow):
    response, _, state, _ = flow.authorize(code_challenge=None, code_challenge_method=None)
    assert_error_redirect(response, flow.portal, state, "invalid_request")


def test_plain_pkce_is_redirected_as_invalid_request(flow):
    response, _, state, _ = flow.authorize(code_challenge="a" * 43, code_challenge_method="plain")
    assert_error_redirect(response, flow.portal, state, "invalid_request")


def test_pkce_without_method_is_refused(flow):
    response, _, state, _ = flow.authorize(code_challenge_method=None)
    assert_error_redirect(response, flow.portal, state, "invalid_request")


def test_missing_openid_scope_is_invalid_scope(flow):
    response, _, state, _ = flow.authorize(scope="profile phone")
    assert_error_redirect(response, flow.portal, state, "invalid_scope")


def test_unsupported_response_type(flow):
    for response_type in ("token", "id_token", "code id_token"):
        response, _, state, _ = flow.authorize(response_type=response_type)
        assert_error_redirect(response, flow.portal, state, "unsupported_response_type")
        assert "access_token" not in response.headers["Location"]
        assert "id_token=" not in response.headers["Location"]


def test_response_mode_other_than_query_refused(flow):
    response, _, state, _ = flow.authorize(response_mode="fragment")
    assert_error_redirect(response, flow.portal, state, "invalid_request")


def test_bad_prompt_or_max_age_refused(flow):
    for params in ({"prompt": "select_account"}, {"prompt": "none login"},
                   {"max_age": "-1"}, {"max_age": "abc"}, {"max_age": "1e3"}):
        response, _, state, _ = flow.authorize(**params)
        assert_error_redirect(response, flow.portal, state, "invalid_request")


def test_unsigned_request_object_and_fetched_request_uri_are_refused(flow):
    """Request objects must be signed by a key the portal registered (RFC 9101), and the only
    request_uri accepted is one /par issued: nothing is fetched from the web."""
    response, _, state, _ = flow.authorize(request="eyJhbGciOiJub25lIn0.e30.")
    assert_error_redirect(response, flow.portal, state, "invalid_request_object")
    response, _, state, _ = flow.authorize(request_uri="https://portal-a.test/req.jwt")
    assert_error_redirect(response, flow.portal, state, "invalid_request_uri")


def test_duplicate_parameters_are_invalid_request(flow, browser):
    base = {
        "response_type": "code", "client_id": flow.portal.client_id,
        "redirect_uri": flow.portal.redirect_uri, "scope": "openid profile",
        "state": "st-1", "nonce": "n-1", "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }
    seconds = {"scope": "openid cccd", "redirect_uri": "https://evil.test/cb", "state": "st-2"}
    for duplicated, second in seconds.items():
        url = "/authorize?" + urlencode(base) + "&" + urlencode({duplicated: second})
        response = browser.get(url)
        # Refused before the redirect URI is trusted: a page, never a redirect (nor a login).
        html = assert_error_page(response)
        assert "invalid_request" in html
        assert f"Multiple &#39;{duplicated}&#39;" in html


def test_unknown_acr_only_is_invalid_request(flow):
    response, _, state, _ = flow.authorize(acr_values="urn:example:unknown")
    assert_error_redirect(response, flow.portal, state, "invalid_request")


def test_level_3_without_session_is_unmet(flow):
    response, _, state, _ = flow.authorize(acr_values="urn:vn:sso:loa:3")
    assert_error_redirect(response, flow.portal, state, "unmet_authentication_requirements")


def test_level_3_with_a_level_2_session_never_gets_a_code(flow, make_account):
    logged_in(flow, make_account)
    response, _, state, _ = flow.authorize(acr_values="urn:vn:sso:loa:3")
    assert_error_redirect(response, flow.portal, state, "unmet_authentication_requirements")
    # With prompt=none the answer is still no code.
    response, _, state, _ = flow.authorize(acr_values="urn:vn:sso:loa:3", prompt="none")
    params = query(response.headers["Location"])
    assert "code" not in params and params["state"] == state


def test_known_and_unknown_acr_takes_the_known_one(flow, make_account):
    logged_in(flow, make_account)
    response, _, state, _ = flow.authorize(acr_values="urn:example:x urn:vn:sso:loa:2")
    params = query(response.headers["Location"])
    assert params["state"] == state and params["code"]


# --- prompts, max_age and sessions ------------------------------------------------------


def test_prompt_none_without_session_is_login_required(flow):
    response, _, state, _ = flow.authorize(prompt="none")
    assert_error_redirect(response, flow.portal, state, "login_required")


def test_prompt_none_with_session_but_no_consent_is_consent_required(
    flow, make_account, make_portal, browser, settings
):
    logged_in(flow, make_account)
    other = Flow(browser, settings, make_portal("portal-b"))
    response, _, state, _ = other.authorize(prompt="none")
    assert_error_redirect(response, other.portal, state, "consent_required")


def test_prompt_none_with_session_and_consent_answers_at_once(flow, make_account):
    logged_in(flow, make_account)
    response, _, state, _ = flow.authorize(prompt="none")
    assert response.status_code == 302
    params = query(response.headers["Location"])
    assert params["code"] and params["state"] == state and params["iss"] == ISSUER


def test_prompt_login_with_a_live_session_asks_the_password_again(flow, make_account):
    logged_in(flow, make_account)
    response, *_ = flow.authorize(prompt="login")
    assert response.status_code == 302
    assert "/login?" in response.headers["Location"]


def test_max_age_zero_asks_the_password_again(flow, make_account):
    logged_in(flow, make_account)
    response, *_ = flow.authorize(max_age="0")
    assert "/login?" in response.headers["Location"]
    response, *_ = flow.authorize(max_age="3600")
    assert "code" in query(response.headers["Location"])


def test_prompt_consent_asks_consent_again(flow, make_account):
    logged_in(flow, make_account)
    response, *_ = flow.authorize(prompt="consent")
    assert "/consent?" in response.headers["Location"]


def test_login_hint_prefills_the_cccd_field(flow, browser):
    response, *_ = flow.authorize(login_hint="001085000042")
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="cccd" value="001085000042"' in page


def test_non_cccd_login_hint_is_ignored(flow, browser):
    response, *_ = flow.authorize(login_hint='"><script>alert(1)</script>')
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="cccd" value=""' in page
    assert "<script>alert(1)" not in page


def test_login_hint_of_another_person_ignores_the_session(flow, make_account):
    logged_in(flow, make_account)
    response, *_ = flow.authorize(login_hint="001085000099")
    assert "/login?" in response.headers["Location"]


def test_consent_refused_is_access_denied(flow, make_account, browser, settings):
    _, person = make_account()
    response, _, state, _ = flow.authorize()
    location = response.headers["Location"]
    tx = query(location)["tx"]
    flow.submit_password(location, person.cccd, person.password)
    consent = flow.submit_otp(tx, last_otp(settings)).headers["Location"]
    response = flow.consent(consent, decision="deny")
    assert response.status_code == 303
    assert_error_redirect(response, flow.portal, state, "access_denied")
    # The interaction is over: its consent page is gone.
    again = browser.get(consent)
    assert EXPIRED_INTERACTION in assert_error_page(again)


def test_interaction_is_bound_to_the_browser(flow, app, browser):
    response, *_ = flow.authorize()
    location = response.headers["Location"]
    assert browser.get(location).status_code == 200
    app.test_client_class = HttpsClient
    stranger = app.test_client()
    html = assert_error_page(stranger.get(location))
    assert EXPIRED_INTERACTION in html
    html = assert_error_page(stranger.get("/authorize/resume?tx=" + query(location)["tx"]))
    assert EXPIRED_INTERACTION in html


def test_unknown_interaction_id_gets_a_page(browser):
    assert EXPIRED_INTERACTION in assert_error_page(browser.get("/login?tx=nope"))
    assert EXPIRED_INTERACTION in assert_error_page(browser.get("/login/otp?tx=" + "x" * 100))


def test_post_authorize_with_session_answers_with_303(flow, make_account, browser):
    logged_in(flow, make_account)
    from tests.conftest import pkce_pair

    _, challenge = pkce_pair()
    response = browser.post("/authorize", data={
        "response_type": "code", "client_id": flow.portal.client_id,
        "redirect_uri": flow.portal.redirect_uri, "scope": "openid profile", "state": "p-1",
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
    assert response.status_code == 303
    assert query(response.headers["Location"])["state"] == "p-1"


# --- what every page carries -------------------------------------------------------------


def assert_security_headers(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_every_html_page_has_the_security_headers(flow, make_account, browser, settings):
    _, person = make_account()
    pages = []
    response, *_ = flow.authorize()
    location = response.headers["Location"]
    tx = query(location)["tx"]
    pages.append(browser.get(location))  # password page
    pages.append(flow.submit_password(location, person.cccd, "Sai-Mat-Khau#2024"))  # 401 page
    flow.submit_password(location, person.cccd, person.password)
    pages.append(browser.get("/login/otp", query_string={"tx": tx}))  # OTP page
    response = flow.submit_otp(tx, last_otp(settings))
    consent_location = response.headers["Location"]
    pages.append(browser.get(consent_location))  # consent page
    pages.append(browser.get("/logout"))  # logout confirmation
    pages.append(browser.get("/login?tx=gone"))  # error page
    pages.append(browser.get("/no-such-page"))  # 404 page
    bad = flow.authorize(redirect_uri="https://evil.test/cb")[0]
    pages.append(bad)  # authorize error page
    assert [page.status_code for page in pages] == [200, 401, 200, 200, 200, 400, 404, 400]
    for page in pages:
        assert page.mimetype == "text/html", page.status
        assert_security_headers(page)
        assert page.headers["Cache-Control"] == "no-store"
    # JSON and redirects carry them too.
    assert_security_headers(browser.get("/.well-known/openid-configuration"))
    assert_security_headers(response)


def test_session_and_browser_cookies_are_secure_httponly_lax(flow, make_account, browser,
                                                             settings):
    _, person = make_account()
    response, *_ = flow.authorize()
    set_cookies = response.headers.getlist("Set-Cookie")
    location = response.headers["Location"]
    tx = query(location)["tx"]
    flow.submit_password(location, person.cccd, person.password)
    response = flow.submit_otp(tx, last_otp(settings))
    set_cookies += response.headers.getlist("Set-Cookie")
    cookies = {}
    for header in set_cookies:
        parsed = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            cookies[name] = (morsel, header)
    # https deployment: `__Host-` names, so a sibling domain can neither plant nor overwrite
    names = ("__Host-idp_session", "__Host-idp_browser")
    assert set(names) <= set(cookies)
    for name in names:
        morsel, header = cookies[name]
        assert not morsel["domain"], header
        assert morsel["secure"], header
        assert morsel["httponly"], header
        assert morsel["samesite"] == "Lax", header
        assert morsel["path"] == "/"
    assert browser.get_cookie("__Host-idp_session", domain="sso.test") is not None
    assert browser.get_cookie("__Host-idp_form", domain="sso.test") is not None


def test_redirects_after_post_are_303(flow, make_account, browser, settings):
    _, person = make_account()
    response, *_ = flow.authorize()
    assert response.status_code == 302  # a GET may be answered with 302
    location = response.headers["Location"]
    tx = query(location)["tx"]
    posted = [flow.submit_password(location, person.cccd, person.password)]
    posted.append(flow.submit_otp(tx, last_otp(settings)))
    consent_location = posted[-1].headers["Location"]
    page = browser.get(consent_location)
    posted.append(browser.post("/consent", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "tx": tx, "decision": "allow",
    }))
    for response in posted:
        assert response.status_code == 303, response.status
    # The consent answers the portal itself (no stop at /authorize/resume).
    assert posted[-1].headers["Location"].startswith(flow.portal.redirect_uri)
    assert "code=" in posted[-1].headers["Location"]
