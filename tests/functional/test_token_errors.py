"""Token endpoint refusals, refresh tokens and logout, subjects, algorithms, and the
resource endpoints (userinfo, introspection, revocation) facing bad or foreign tokens.

Over 400 lines: one list of every RFC error the token and resource endpoints answer,
checked against one set of issued tokens."""

from __future__ import annotations

import base64
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from tests.conftest import ISSUER, Flow, basic, config

EXPIRED_CODE_TTL = {"tokens": {"code_ttl": 1}}


# --- helpers ---------------------------------------------------------------------------


def jwks(browser) -> KeySet:
    return KeySet.import_key_set(browser.get("/jwks").get_json())


def refresh(browser, portal, token: str):
    return browser.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                        headers={"Authorization": basic(portal)})


def introspect(browser, portal, token: str) -> dict:
    response = browser.post("/introspect", data={"token": token},
                            headers={"Authorization": basic(portal)})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def userinfo(browser, token: str):
    return browser.get("/userinfo", headers={"Authorization": "Bearer " + token})


def assert_oauth_error(response, status: int, error: str) -> dict:
    assert response.status_code == status, (response.status, response.get_data(as_text=True))
    body = response.get_json()
    assert body["error"] == error, body
    assert response.headers["Cache-Control"] == "no-store"
    return body


def tokens_for(flow, make_account, scope="openid profile offline_access", person=None):
    if person is None:
        _, person = make_account()
    auth = flow.login(person, scope=scope)
    response = flow.exchange(auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def b64(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# --- authorization codes ---------------------------------------------------------------


def test_token_response_is_not_cached(flow, make_account):
    _, person = make_account()
    response = flow.exchange(flow.login(person))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers.get("Pragma") == "no-cache"
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0


def test_code_reuse_fails_and_revokes_what_the_first_use_issued(flow, make_account, browser):
    _, person = make_account()
    auth = flow.login(person, scope="openid profile offline_access")
    first = flow.exchange(auth)
    assert first.status_code == 200
    tokens = first.get_json()
    assert introspect(browser, flow.portal, tokens["access_token"])["active"] is True
    assert userinfo(browser, tokens["access_token"]).status_code == 200

    again = flow.exchange(auth)
    assert_oauth_error(again, 400, "invalid_grant")
    assert "access_token" not in again.get_json()

    assert introspect(browser, flow.portal, tokens["access_token"]) == {"active": False}
    assert introspect(browser, flow.portal, tokens["refresh_token"]) == {"active": False}
    assert userinfo(browser, tokens["access_token"]).status_code == 401
    assert_oauth_error(refresh(browser, flow.portal, tokens["refresh_token"]), 400,
                       "invalid_grant")


def test_wrong_code_verifier_is_invalid_grant(flow, make_account):
    _, person = make_account()
    auth = flow.login(person)
    response = flow.exchange(auth, code_verifier="w" * 64)
    assert_oauth_error(response, 400, "invalid_grant")
    # The code was spent by the failed attempt.
    assert_oauth_error(flow.exchange(auth), 400, "invalid_grant")


def test_missing_code_verifier_is_invalid_request(flow, make_account):
    _, person = make_account()
    auth = flow.login(person)
    assert_oauth_error(flow.exchange(auth, code_verifier=None), 400, "invalid_request")


def test_wrong_redirect_uri_is_invalid_grant(flow, make_account):
    _, person = make_account()
    auth = flow.login(person)
    response = flow.exchange(auth, redirect_uri="https://portal-a.test/other")
    assert_oauth_error(response, 400, "invalid_grant")


def test_missing_redirect_uri_is_refused(flow, make_account):
    _, person = make_account()
    auth = flow.login(person)
    response = flow.exchange(auth, redirect_uri=None)
    assert response.status_code == 400
    assert response.get_json()["error"] in ("invalid_grant", "invalid_request")


def test_unknown_code_is_invalid_grant(flow, make_account):
    _, person = make_account()
    auth = flow.login(person)
    auth.params["code"] = "not-a-code"
    assert_oauth_error(flow.exchange(auth), 400, "invalid_grant")


def test_code_of_one_portal_cannot_be_redeemed_by_another(flow, make_account, make_portal,
                                                          browser, settings):
    _, person = make_account()
    auth = flow.login(person)
    other = Flow(browser, settings, make_portal("portal-b"))
    # Portal B presents A's code with its own (registered) redirect URI and its own secret.
    response = other.exchange(auth, redirect_uri=other.portal.redirect_uri)
    assert_oauth_error(response, 400, "invalid_grant")
    response = other.exchange(auth)  # and with A's redirect URI
    assert_oauth_error(response, 400, "invalid_grant")


def test_wrong_client_secret_is_invalid_client(flow, make_account, browser):
    _, person = make_account()
    auth = flow.login(person)
    response = browser.post("/token", data={
        "grant_type": "authorization_code", "code": auth.params["code"],
        "redirect_uri": flow.portal.redirect_uri, "code_verifier": auth.verifier,
    }, headers={"Authorization": basic(flow.portal, "wrong-secret-" + "x" * 30)})
    assert_oauth_error(response, 401, "invalid_client")
    assert "access_token" not in response.get_json()


def test_no_client_authentication_is_invalid_client(flow, make_account, browser):
    _, person = make_account()
    auth = flow.login(person)
    response = browser.post("/token", data={
        "grant_type": "authorization_code", "code": auth.params["code"],
        "redirect_uri": flow.portal.redirect_uri, "code_verifier": auth.verifier,
        "client_id": flow.portal.client_id,
    })
    assert_oauth_error(response, 401, "invalid_client")


def test_client_secret_post_client(make_portal, make_account, browser, settings):
    portal = make_portal("portal-post", token_endpoint_auth_method="client_secret_post")
    post_flow = Flow(browser, settings, portal)
    _, person = make_account()
    auth = post_flow.login(person)
    form = {
        "grant_type": "authorization_code", "code": auth.params["code"],
        "redirect_uri": portal.redirect_uri, "code_verifier": auth.verifier,
    }
    # HTTP Basic is not the method this client registered.
    refused = browser.post("/token", data=form, headers={"Authorization": basic(portal)})
    assert_oauth_error(refused, 401, "invalid_client")

    auth = post_flow.login(person)
    form["code"], form["code_verifier"] = auth.params["code"], auth.verifier
    response = browser.post("/token", data={**form, "client_id": portal.client_id,
                                            "client_secret": portal.secret})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["access_token"]


def test_basic_client_cannot_use_client_secret_post(flow, make_account, browser):
    _, person = make_account()
    auth = flow.login(person)
    response = browser.post("/token", data={
        "grant_type": "authorization_code", "code": auth.params["code"],
        "redirect_uri": flow.portal.redirect_uri, "code_verifier": auth.verifier,
        "client_id": flow.portal.client_id, "client_secret": flow.portal.secret,
    })
    assert_oauth_error(response, 401, "invalid_client")


@config(**EXPIRED_CODE_TTL)
def test_expired_code_is_invalid_grant(flow, make_account):
    _, person = make_account()
    auth = flow.login(person)
    time.sleep(1.5)
    assert_oauth_error(flow.exchange(auth), 400, "invalid_grant")


def test_unsupported_grant_type(flow, browser):
    for grant_type in ("password", "client_credentials", "implicit", "nope"):
        response = browser.post("/token", data={"grant_type": grant_type, "username": "x",
                                                "password": "y"},
                                headers={"Authorization": basic(flow.portal)})
        assert_oauth_error(response, 400, "unsupported_grant_type")


def test_missing_grant_type(flow, browser):
    response = browser.post("/token", data={}, headers={"Authorization": basic(flow.portal)})
    assert response.status_code == 400
    assert response.get_json()["error"] in ("invalid_request", "unsupported_grant_type")


# --- refresh tokens and logout ---------------------------------------------------------


def logout(browser, id_token: str, portal) -> None:
    response = browser.get("/logout", query_string={
        "id_token_hint": id_token, "post_logout_redirect_uri": portal.post_logout_uri,
    })
    assert response.status_code == 302, response.get_data(as_text=True)


def test_session_bound_refresh_token_ends_with_logout(make_portal, make_account, browser,
                                                      settings):
    portal = make_portal("portal-s", session_refresh_tokens=True)
    session_flow = Flow(browser, settings, portal)
    tokens = tokens_for(session_flow, make_account, scope="openid profile")
    assert tokens["refresh_token"], "the client's policy gives a refresh token without offline"
    refreshed = refresh(browser, portal, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.get_json()
    current = refreshed.get_json()

    logout(browser, tokens["id_token"], portal)
    assert_oauth_error(refresh(browser, portal, current["refresh_token"]), 400, "invalid_grant")


def test_offline_access_refresh_token_survives_logout(flow, make_account, browser):
    tokens = tokens_for(flow, make_account, scope="openid profile offline_access")
    logout(browser, tokens["id_token"], flow.portal)
    assert_oauth_error(refresh(browser, flow.portal, "not-a-token"), 400, "invalid_grant")
    response = refresh(browser, flow.portal, tokens["refresh_token"])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["refresh_token"] != tokens["refresh_token"]


def test_tokens_of_a_disabled_account_stop_working(flow, make_account, browser, provider):
    from idp.store.models import Account

    account_id, person = make_account()
    tokens = tokens_for(flow, make_account, person=person)
    auth = flow.login(person, scope="openid profile")
    with provider.db.begin() as session:
        session.get(Account, account_id).status = "disabled"
    assert_oauth_error(refresh(browser, flow.portal, tokens["refresh_token"]), 400,
                       "invalid_grant")
    assert_oauth_error(flow.exchange(auth), 400, "invalid_grant")
    assert userinfo(browser, tokens["access_token"]).status_code == 401


def test_a_removed_client_is_refused_once_the_registration_cache_checks(
        flow, make_account, browser, provider):
    """Registrations are kept in memory; `idp client remove` rewrites the stamp that every
    process compares at most once a second, so the removal reaches every node."""
    from idp.clients import announce_client_change
    from idp.store.models import Client

    tokens = tokens_for(flow, make_account)
    assert refresh(browser, flow.portal, tokens["refresh_token"]).status_code == 200
    with provider.db.begin() as session:  # what `idp client remove` does
        session.delete(session.get(Client, flow.portal.client_id))
    announce_client_change(provider.state)
    time.sleep(provider.clients.check_seconds + 0.1)
    assert_oauth_error(refresh(browser, flow.portal, tokens["refresh_token"]), 401,
                       "invalid_client")
    response, *_ = flow.authorize()
    assert response.status_code == 400
    assert "không hợp lệ" in response.get_data(as_text=True)


def test_a_client_added_after_start_works_at_once(flow, make_account, make_portal, browser):
    _, person = make_account()
    tokens_for(flow, make_account, person=person)  # the first portal's registration is cached
    other = Flow(browser, flow.settings, make_portal("portal-late"))
    tokens = tokens_for(other, make_account, person=person)
    assert refresh(browser, other.portal, tokens["refresh_token"]).status_code == 200


def test_refresh_token_of_another_client_is_refused(flow, make_account, make_portal, browser):
    tokens = tokens_for(flow, make_account)
    other = make_portal("portal-b")
    assert_oauth_error(refresh(browser, other, tokens["refresh_token"]), 400, "invalid_grant")


# --- subjects and algorithms -----------------------------------------------------------


def test_pairwise_subject_differs_and_userinfo_agrees(flow, make_account, make_portal,
                                                      browser, settings):
    _, person = make_account()
    public = tokens_for(flow, make_account, scope="openid profile", person=person)
    pairwise_portal = make_portal("portal-p", subject_type="pairwise")
    pairwise = tokens_for(Flow(browser, settings, pairwise_portal), make_account,
                          scope="openid profile", person=person)
    keys = jwks(browser)
    public_sub = jwt.decode(public["id_token"], keys).claims["sub"]
    pairwise_sub = jwt.decode(pairwise["id_token"], keys).claims["sub"]
    assert public_sub != pairwise_sub
    assert person.cccd not in (public_sub, pairwise_sub)
    assert userinfo(browser, pairwise["access_token"]).get_json()["sub"] == pairwise_sub
    assert userinfo(browser, public["access_token"]).get_json()["sub"] == public_sub
    assert jwt.decode(pairwise["access_token"], keys).claims["sub"] == pairwise_sub
    assert introspect(browser, pairwise_portal, pairwise["access_token"])["sub"] == pairwise_sub
    # Stable: the next login gives the same pairwise subject.
    again = tokens_for(Flow(browser, settings, pairwise_portal), make_account,
                       scope="openid", person=person)
    assert jwt.decode(again["id_token"], keys).claims["sub"] == pairwise_sub


def test_es256_id_token_for_a_client_that_registered_it(make_portal, make_account, browser,
                                                        settings):
    portal = make_portal("portal-ec", id_token_alg="ES256")
    tokens = tokens_for(Flow(browser, settings, portal), make_account, scope="openid")
    header = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[0] + "=="))
    assert header["alg"] == "ES256"
    token = jwt.decode(tokens["id_token"], jwks(browser), algorithms=["ES256"])
    assert token.claims["aud"] == portal.client_id and token.claims["iss"] == ISSUER
    with pytest.raises(Exception):  # noqa: B017 - any joserfc refusal
        jwt.decode(tokens["id_token"], jwks(browser), algorithms=["RS256"])


# --- userinfo facing bad tokens --------------------------------------------------------


def test_userinfo_without_token(browser):
    response = browser.get("/userinfo")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error=" not in response.headers["WWW-Authenticate"]  # RFC 6750 §3.1


def test_userinfo_with_garbage_token(browser):
    for garbage in ("garbage", "a.b.c", "x" * 9000, "eyJ.eyJ.sig"):
        response = userinfo(browser, garbage)
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        assert response.get_json()["error"] == "invalid_token"


def assert_invalid_token(response) -> None:
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.get_json()["error"] == "invalid_token"


def test_userinfo_refuses_forged_and_misused_tokens(flow, make_account, browser, app,
                                                    provider):
    tokens = tokens_for(flow, make_account, scope="openid profile")
    real = jwt.decode(tokens["access_token"], jwks(browser))
    claims = {**real.claims, "iss": ISSUER}
    foreign = ECKey.generate_key("P-256")

    # Signed by a foreign key with our kid and typ: only the key differs.
    assert_invalid_token(userinfo(browser, jwt.encode(
        {"alg": "ES256", "typ": "at+jwt", "kid": real.header["kid"]}, claims, foreign)))
    # The foreign key embedded in the header.
    assert_invalid_token(userinfo(browser, jwt.encode(
        {"alg": "ES256", "typ": "at+jwt", "jwk": foreign.as_dict(private=False)}, claims,
        foreign)))
    # Unsigned (alg none, any spelling).
    for alg in ("none", "None", "NONE"):
        assert_invalid_token(userinfo(browser, f"{b64({'alg': alg, 'typ': 'at+jwt'})}."
                                               f"{b64(claims)}."))
    # Our own signature but another issuer.
    with app.app_context():
        kid, key = provider.keys.signing_key("ES256")
    assert_invalid_token(userinfo(browser, jwt.encode(
        {"alg": "ES256", "typ": "at+jwt", "kid": kid}, {**claims, "iss": "https://evil.test"},
        key)))
    # An ID token is not an access token.
    assert_invalid_token(userinfo(browser, tokens["id_token"]))
    # The real token works, but only in the header or a POSTed form, not in the URL.
    assert userinfo(browser, tokens["access_token"]).status_code == 200
    in_query = browser.get("/userinfo", query_string={"access_token": tokens["access_token"]})
    assert in_query.status_code == 401


def test_revoked_access_token_is_refused(flow, make_account, browser):
    tokens = tokens_for(flow, make_account, scope="openid profile")
    assert userinfo(browser, tokens["access_token"]).status_code == 200
    response = browser.post("/revoke", data={"token": tokens["access_token"],
                                             "token_type_hint": "access_token"},
                            headers={"Authorization": basic(flow.portal)})
    assert response.status_code == 200
    refused = userinfo(browser, tokens["access_token"])
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert introspect(browser, flow.portal, tokens["access_token"]) == {"active": False}


def test_revoking_a_refresh_token_ends_the_grant(flow, make_account, browser):
    tokens = tokens_for(flow, make_account)
    response = browser.post("/revoke", data={"token": tokens["refresh_token"]},
                            headers={"Authorization": basic(flow.portal)})
    assert response.status_code == 200
    assert userinfo(browser, tokens["access_token"]).status_code == 401
    assert_oauth_error(refresh(browser, flow.portal, tokens["refresh_token"]), 400,
                       "invalid_grant")


def test_userinfo_by_post_form(flow, make_account, browser):
    tokens = tokens_for(flow, make_account, scope="openid profile")
    response = browser.post("/userinfo", data={"access_token": tokens["access_token"]})
    assert response.status_code == 200
    assert response.get_json()["name"]
    assert response.headers["Cache-Control"] == "no-store"


# --- introspection and revocation across clients ---------------------------------------


def test_introspection_by_another_client_is_inactive(flow, make_account, make_portal, browser):
    tokens = tokens_for(flow, make_account)
    other = make_portal("portal-b")
    assert introspect(browser, other, tokens["access_token"]) == {"active": False}
    assert introspect(browser, other, tokens["refresh_token"]) == {"active": False}
    assert introspect(browser, flow.portal, tokens["access_token"])["active"] is True


def test_introspection_needs_client_authentication(flow, make_account, browser):
    tokens = tokens_for(flow, make_account)
    response = browser.post("/introspect", data={"token": tokens["access_token"]})
    assert response.status_code == 401
    response = browser.post("/introspect", data={"token": tokens["access_token"]},
                            headers={"Authorization": basic(flow.portal, "w" * 40)})
    assert response.status_code == 401


def test_revocation_by_another_client_is_refused(flow, make_account, make_portal, browser):
    tokens = tokens_for(flow, make_account)
    other = make_portal("portal-b")
    for token in (tokens["access_token"], tokens["refresh_token"]):
        response = browser.post("/revoke", data={"token": token},
                                headers={"Authorization": basic(other)})
        assert response.status_code == 400
        assert response.get_json()["error"] == "invalid_grant"
    assert userinfo(browser, tokens["access_token"]).status_code == 200
    assert introspect(browser, flow.portal, tokens["access_token"])["active"] is True
    assert refresh(browser, flow.portal, tokens["refresh_token"]).status_code == 200


@pytest.mark.parametrize("header", ["Basic w6k6w6k=", "Basic 6Ok6", "Basic Zm9v", "Basic !!!",
                                    "Basic ¸N¹Åÿ", "Basic ", "Basic JUZGOiVGRg=="])
def test_malformed_basic_credentials_are_invalid_client(browser, make_portal, header):
    """Non-ASCII, Latin-1, no colon, bad base64: a clean RFC error, never a 500."""
    make_portal()
    for path, form in (("/token", {"grant_type": "refresh_token", "refresh_token": "x"}),
                       ("/introspect", {"token": "x"}), ("/revoke", {"token": "x"})):
        response = browser.post(path, data=form, headers={"Authorization": header})
        assert_oauth_error(response, 401, "invalid_client")
