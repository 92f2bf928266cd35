"""The plain refresh answered in front of Flask (idp/oidc/plain_refresh.py): the same answer
as the app's, and every other token request still answered by the app."""

from __future__ import annotations

import base64
import functools
import json

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import ISSUER, basic

PER_ANSWER = {"content-length", "x-request-id", "date"}


@pytest.fixture
def token_view_calls(app) -> list[str]:
    """Each request the app's token view answered (the fast path never reaches it)."""
    calls: list[str] = []
    view = app.view_functions["oidc.token"]

    @functools.wraps(view)  # the same name: the view stays exempt from CSRF
    def counted(*args, **kwargs):
        calls.append("token")
        return view(*args, **kwargs)

    app.view_functions["oidc.token"] = counted
    return calls


@pytest.fixture
def tokens(flow, make_account) -> dict:
    _, person = make_account()
    response = flow.exchange(flow.login(person, scope="openid profile offline_access"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def refresh(browser, portal, token: str, **extra):
    data = {"grant_type": "refresh_token", "refresh_token": token, **extra}
    headers = {"Authorization": basic(portal)}
    if "headers" in data:
        headers.update(data.pop("headers"))
    return browser.post("/token", data=data, headers=headers)


def fixed_headers(response) -> dict:
    return {name.lower(): value for name, value in response.headers.items()
            if name.lower() not in PER_ANSWER}


def test_after_one_answer_from_the_app_plain_refreshes_skip_it_with_the_same_answer(
        browser, flow, tokens, token_view_calls):
    first = refresh(browser, flow.portal, tokens["refresh_token"])
    assert first.status_code == 200 and token_view_calls == ["token"], first.get_json()
    second = refresh(browser, flow.portal, first.get_json()["refresh_token"])
    third = refresh(browser, flow.portal, second.get_json()["refresh_token"])
    assert token_view_calls == ["token"]  # answered in front of the app
    assert second.status_code == third.status_code == 200
    assert fixed_headers(second) == fixed_headers(first)
    assert second.headers["Cache-Control"] == "no-store"
    assert int(second.headers["Content-Length"]) == len(second.get_data())
    assert second.headers["X-Request-ID"] != first.headers["X-Request-ID"]
    body = second.get_json()
    assert list(body) == sorted(first.get_json())  # same members, as Flask's JSON orders them
    assert body["token_type"] == "Bearer" and body["scope"] == tokens["scope"]
    assert body["refresh_token"] not in (tokens["refresh_token"],
                                         first.get_json()["refresh_token"])
    keys = KeySet.import_key_set(browser.get("/jwks").get_json())
    claims = jwt.decode(body["id_token"], keys).claims
    first_claims = jwt.decode(first.get_json()["id_token"], keys).claims
    assert claims["iss"] == ISSUER and claims["aud"] == flow.portal.client_id
    assert claims["sub"] == first_claims["sub"] and claims["acr"] == first_claims["acr"]
    access = jwt.decode(body["access_token"], keys).claims
    assert access["sub"] == claims["sub"] and access["client_id"] == flow.portal.client_id
    assert browser.get("/userinfo", headers={
        "Authorization": "Bearer " + body["access_token"]}).status_code == 200


def test_a_rotated_token_is_answered_by_the_app_which_revokes_the_family(
        browser, flow, tokens, token_view_calls):
    first = refresh(browser, flow.portal, tokens["refresh_token"]).get_json()
    second = refresh(browser, flow.portal, first["refresh_token"]).get_json()
    replayed = refresh(browser, flow.portal, first["refresh_token"])
    assert replayed.status_code == 400 and replayed.get_json()["error"] == "invalid_grant"
    assert token_view_calls == ["token", "token"]
    # The reuse revoked the whole family: the newest token is refused too.
    newest = refresh(browser, flow.portal, second["refresh_token"])
    assert newest.status_code == 400 and newest.get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize("variant", [
    "scope", "client_secret_post", "wrong_secret", "dpop_header", "extra_parameter",
    "query_string", "json_body",
])
def test_every_other_refresh_request_is_answered_by_the_app(
        browser, flow, tokens, token_view_calls, variant):
    warm = refresh(browser, flow.portal, tokens["refresh_token"]).get_json()
    token = warm["refresh_token"]
    portal = flow.portal
    plain = {"grant_type": "refresh_token", "refresh_token": token}
    if variant == "scope":
        answer = refresh(browser, portal, token, scope="openid")
        assert answer.status_code == 200 and answer.get_json()["scope"] == "openid"
    elif variant == "client_secret_post":
        answer = browser.post("/token", data={
            **plain, "client_id": portal.client_id, "client_secret": portal.secret})
        assert answer.status_code == 401 and answer.get_json()["error"] == "invalid_client"
    elif variant == "wrong_secret":
        answer = browser.post("/token", data=plain, headers={
            "Authorization": basic(portal, "not-the-secret")})
        assert answer.status_code == 401 and answer.get_json()["error"] == "invalid_client"
    elif variant == "dpop_header":
        answer = refresh(browser, portal, token, headers={"DPoP": "not-a-proof"})
        assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_dpop_proof"
    elif variant == "extra_parameter":
        answer = refresh(browser, portal, token, resource="https://api.example")
        assert answer.status_code == 200
    elif variant == "query_string":
        answer = browser.post("/token?x=1", data=plain,
                              headers={"Authorization": basic(portal)})
        assert answer.status_code == 200
    else:
        answer = browser.post("/token", data=json.dumps(plain), headers={
            "Authorization": basic(portal), "Content-Type": "application/json"})
        assert answer.status_code == 400
    assert token_view_calls == ["token", "token"]


def test_a_refused_plain_refresh_spends_nothing(browser, flow, tokens, app, provider):
    """A disabled account: the app answers invalid_grant, and the token stays unspent (the
    fast path rolled its claim back, as the app does)."""
    warm = refresh(browser, flow.portal, tokens["refresh_token"]).get_json()
    from sqlalchemy import update

    from idp.store.models import Account

    with app.app_context():
        provider.db.session.execute(update(Account).values(status="disabled"))
        provider.db.session.commit()
    refused = refresh(browser, flow.portal, warm["refresh_token"])
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_grant"
    with app.app_context():
        provider.db.session.execute(update(Account).values(status="active"))
        provider.db.session.commit()
    again = refresh(browser, flow.portal, warm["refresh_token"])
    assert again.status_code == 200, again.get_json()


def test_a_basic_header_that_is_not_base64_is_refused_by_the_app(browser, flow, tokens):
    refresh(browser, flow.portal, tokens["refresh_token"])
    answer = browser.post("/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                          headers={"Authorization": "Basic " + base64.b64encode(b"nocolon")
                                   .decode() + "!"})
    assert answer.status_code == 401 and answer.get_json()["error"] == "invalid_client"
