"""The whole code flow through the test client: login, consent, tokens, userinfo."""

from __future__ import annotations

from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import ISSUER, basic, query


def _jwks(browser) -> KeySet:
    return KeySet.import_key_set(browser.get("/jwks").get_json())


def test_password_otp_consent_code_tokens_userinfo(flow, make_account, browser):
    _, person = make_account()
    auth = flow.login(person)
    assert auth.params["state"] == auth.state
    assert auth.params["iss"] == ISSUER

    response = flow.exchange(auth)
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    tokens = response.get_json()
    assert "refresh_token" not in tokens  # no offline_access asked

    id_token = jwt.decode(tokens["id_token"], _jwks(browser), algorithms=["RS256"])
    claims = id_token.claims
    assert id_token.header["alg"] == "RS256"
    assert claims["iss"] == ISSUER and claims["aud"] == flow.portal.client_id
    assert claims["nonce"] == auth.nonce
    assert claims["acr"] == "urn:vn:sso:loa:2"
    assert set(claims["amr"]) >= {"pwd", "otp", "sms"}
    assert claims["sid"] and claims["auth_time"]
    assert claims["sub"] != person.cccd

    access = jwt.decode(tokens["access_token"], _jwks(browser), algorithms=["ES256"])
    assert access.header["typ"] == "at+jwt"
    assert access.claims["client_id"] == flow.portal.client_id

    info = browser.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]})
    assert info.status_code == 200
    body = info.get_json()
    assert body["sub"] == claims["sub"]
    assert body["cccd"] == person.cccd
    assert body["name"] == person.full_name
    assert body["phone_number"] == person.phone
    assert "email" not in body  # the email scope was not asked


def test_refresh_rotation_introspect_revoke(flow, make_account, browser):
    _, person = make_account()
    auth = flow.login(person, scope="openid profile offline_access")
    tokens = flow.exchange(auth).get_json()
    first_refresh = tokens["refresh_token"]

    refreshed = browser.post("/token", data={"grant_type": "refresh_token",
                                             "refresh_token": first_refresh},
                             headers={"Authorization": basic(flow.portal)})
    assert refreshed.status_code == 200, refreshed.get_json()
    second = refreshed.get_json()
    assert second["refresh_token"] != first_refresh

    introspected = browser.post("/introspect", data={"token": second["access_token"]},
                                headers={"Authorization": basic(flow.portal)}).get_json()
    assert introspected["active"] is True
    assert introspected["client_id"] == flow.portal.client_id

    # Reusing the rotated token revokes the whole family.
    reused = browser.post("/token", data={"grant_type": "refresh_token",
                                          "refresh_token": first_refresh},
                          headers={"Authorization": basic(flow.portal)})
    assert reused.status_code == 400 and reused.get_json()["error"] == "invalid_grant"
    again = browser.post("/token", data={"grant_type": "refresh_token",
                                         "refresh_token": second["refresh_token"]},
                         headers={"Authorization": basic(flow.portal)})
    assert again.get_json()["error"] == "invalid_grant"
    gone = browser.post("/introspect", data={"token": second["access_token"]},
                        headers={"Authorization": basic(flow.portal)}).get_json()
    assert gone == {"active": False}


def test_sso_second_portal_without_login(flow, make_account, make_portal, browser, settings):
    from tests.conftest import Flow

    _, person = make_account()
    flow.login(person)
    second = Flow(browser, settings, make_portal("portal-b"))
    response, *_ = second.authorize()
    location = response.headers["Location"]
    assert "/consent" in location  # no password asked, only this portal's consent
    done = second.consent(location)
    assert done.status_code == 303 and query(done.headers["Location"])["code"]


def _id_claims(flow, auth) -> dict:
    token = flow.exchange(auth).get_json()["id_token"]
    return jwt.decode(token, _jwks(flow.browser), algorithms=["RS256"]).claims


def test_prompt_login_same_account_keeps_the_session(flow, make_account):
    _, person = make_account()
    first = _id_claims(flow, flow.login(person))
    again = _id_claims(flow, flow.login(person, prompt="login"))
    assert again["sid"] == first["sid"]
    assert again["auth_time"] >= first["auth_time"]


def test_other_account_in_same_browser_replaces_the_session(flow, make_account, app, provider):
    _, first_person = make_account(n=1)
    _, second_person = make_account(n=2)
    first = _id_claims(flow, flow.login(first_person))
    second = _id_claims(flow, flow.login(second_person, prompt="login"))
    assert second["sid"] != first["sid"] and second["sub"] != first["sub"]
    with app.app_context():
        assert provider.state.get(f"sso:{first['sid']}") is None
