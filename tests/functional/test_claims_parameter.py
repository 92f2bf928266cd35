"""The `claims` request parameter (OIDC Core §5.5), on both backends.

A portal asks for individual claims in the ID token or at userinfo; it gets those its
registration allows, after the citizen agreed to each; `acr` as an essential claim
sets the level and `sub` with a value says who may answer.
"""

from __future__ import annotations

import base64
import json

from tests.conftest import basic, query

CCCD_IN_ID_TOKEN = {"id_token": {"cccd": None, "birthdate": {"essential": True}}}


def claims_of(jws: str) -> dict:
    payload = jws.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def tokens_for(flow, person, claims: dict, scope: str = "openid") -> dict:
    auth = flow.login(person, scope=scope, claims=json.dumps(claims))
    answer = flow.exchange(auth)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_claims_asked_for_the_id_token(flow, make_account):
    _, person = make_account()
    tokens = tokens_for(flow, person, CCCD_IN_ID_TOKEN)
    id_token = claims_of(tokens["id_token"])
    assert id_token["cccd"] == person.cccd and id_token["birthdate"] == person.birthdate
    assert "name" not in id_token and "phone_number" not in id_token
    # Userinfo releases what the scopes carry (openid alone): nothing asked for the ID token.
    info = flow.browser.get("/userinfo",
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert "cccd" not in info.get_json()


def test_claims_asked_for_userinfo_and_kept_across_refresh(flow, make_account):
    _, person = make_account()
    tokens = tokens_for(flow, person, {"userinfo": {"phone_number": None, "name": None}},
                        scope="openid offline_access")
    info = flow.browser.get("/userinfo",
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.get_json()["phone_number"] == person.phone
    assert info.get_json()["name"] == person.full_name and "cccd" not in info.get_json()
    refreshed = flow.browser.post("/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers={"Authorization": basic(flow.portal)}).get_json()
    info = flow.browser.get("/userinfo",
                            headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert info.get_json()["phone_number"] == person.phone


def test_claims_the_portal_is_not_registered_for_are_left_out(flow, make_account):
    _, person = make_account()
    tokens = tokens_for(flow, person, {"id_token": {"tax_code": {"essential": True},
                                                    "no_such_claim": None, "cccd": None}})
    id_token = claims_of(tokens["id_token"])
    assert "tax_code" not in id_token and "no_such_claim" not in id_token
    assert id_token["cccd"] == person.cccd


def test_consent_names_each_claim_and_is_asked_again_for_a_new_one(flow, make_account):
    _, person = make_account()
    tokens_for(flow, person, CCCD_IN_ID_TOKEN)
    again, *_ = flow.authorize(scope="openid", claims=json.dumps(CCCD_IN_ID_TOKEN))
    assert "code=" in again.headers["Location"]  # consented: no question
    more, *_ = flow.authorize(scope="openid",
                              claims=json.dumps({"userinfo": {"email": None}}))
    assert "/consent" in more.headers["Location"]
    page = flow.browser.get(more.headers["Location"]).get_data(as_text=True)
    assert "Thư điện tử" in page and person.email in page
    assert "Số điện thoại" not in page


def test_malformed_claims_parameter(flow):
    for value in ("not json", "[1]", '{"userinfo": []}', '{"id_token": {"cccd": 1}}',
                  '{"id_token": {"acr": {"essential": "yes"}}}',
                  '{"id_token": {"acr": {"values": "urn:vn:sso:loa:2"}}}',
                  json.dumps({"userinfo": {f"c{n}": None for n in range(600)}})):
        response, _, state, _ = flow.authorize(claims=value)
        params = query(response.headers["Location"])
        assert params["error"] == "invalid_request", value
        assert params["state"] == state


def test_essential_acr_sets_the_level(flow, make_account):
    _, person = make_account()
    flow.login(person)  # a level-2 session
    essential = {"id_token": {"acr": {"essential": True, "values": ["urn:vn:sso:loa:3"]}}}
    response, *_ = flow.authorize(claims=json.dumps(essential))
    # Level 3 needs a USB token, which this provider is not configured for.
    assert query(response.headers["Location"])["error"] == "unmet_authentication_requirements"
    unknown = {"id_token": {"acr": {"essential": True, "value": "urn:other:loa:9"}}}
    response, *_ = flow.authorize(claims=json.dumps(unknown))
    assert query(response.headers["Location"])["error"] == "unmet_authentication_requirements"
    voluntary = {"id_token": {"acr": {"values": ["urn:vn:sso:loa:3"]}}}
    response, *_ = flow.authorize(claims=json.dumps(voluntary))
    assert "code" in query(response.headers["Location"])  # a wish, not a requirement


def test_sub_with_a_value_answers_only_for_that_user(flow, make_account):
    _, person = make_account()
    tokens = tokens_for(flow, person, CCCD_IN_ID_TOKEN)
    sub = claims_of(tokens["id_token"])["sub"]
    same = {"id_token": {"sub": {"value": sub}}}
    response, *_ = flow.authorize(scope="openid", claims=json.dumps(same), prompt="none")
    assert "code" in query(response.headers["Location"])
    other = {"id_token": {"sub": {"value": "someone-else"}}}
    response, *_ = flow.authorize(scope="openid", claims=json.dumps(other), prompt="none")
    assert query(response.headers["Location"])["error"] == "login_required"
    response, *_ = flow.authorize(scope="openid", claims=json.dumps(other))
    assert "/login" in response.headers["Location"]  # the session does not answer for them
