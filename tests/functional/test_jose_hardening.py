"""Tokens presented back to the provider: only our keys, only RS256/ES256, no tricks.

Each forged token is built byte by byte (joserfc refuses to make most of them),
then presented where the provider verifies its own tokens: userinfo (access
tokens) and logout (ID token hints).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry

from tests.conftest import ISSUER


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict, claims: dict, key, alg: str) -> str:
    """A compact JWS signed with `key` whatever the header says."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    if alg == "none":
        return signing_input + "."
    if alg == "HS256":  # the classic key-confusion attack: HMAC keyed with a public key
        digest = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(digest)}"
    signature = JWSRegistry().get_alg(alg).sign(signing_input.encode(), key)
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture
def access_claims(flow, make_account, app, provider):
    _, person = make_account()
    tokens = flow.exchange(flow.login(person)).get_json()
    payload = tokens["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    with app.app_context():
        kid, key = provider.keys.signing_key("ES256")
    return claims, kid, key, tokens


def _userinfo(browser, token: str):
    return browser.get("/userinfo", headers={"Authorization": f"Bearer {token}"})


def test_genuine_token_is_accepted(browser, access_claims):
    claims, kid, key, _ = access_claims
    token = forge({"alg": "ES256", "kid": kid, "typ": "at+jwt"}, claims, key, "ES256")
    assert _userinfo(browser, token).status_code == 200


def test_unknown_critical_header_is_refused(browser, access_claims):
    claims, kid, key, _ = access_claims
    header = {"alg": "ES256", "kid": kid, "typ": "at+jwt", "crit": ["x-vn"], "x-vn": 1}
    assert _userinfo(browser, forge(header, claims, key, "ES256")).status_code == 401


def test_alg_none_is_refused(browser, access_claims):
    claims, kid, _key, _ = access_claims
    token = forge({"alg": "none", "kid": kid, "typ": "at+jwt"}, claims, None, "none")
    assert _userinfo(browser, token).status_code == 401


def test_embedded_jwk_and_remote_key_urls_are_ignored(browser, access_claims):
    claims, kid, _key, _ = access_claims
    attacker = ECKey.generate_key("P-256")
    public = attacker.as_dict(private=False)
    for extra in ({"jwk": public}, {"jku": "https://evil.test/jwks"},
                  {"x5u": "https://evil.test/cert.pem"}, {"jwk": public, "kid": None}):
        header = {"alg": "ES256", "kid": kid, "typ": "at+jwt", **extra}
        header = {k: v for k, v in header.items() if v is not None}
        response = _userinfo(browser, forge(header, claims, attacker, "ES256"))
        assert response.status_code == 401, extra


def test_hmac_with_public_key_is_refused(browser, access_claims, provider, app):
    claims, kid, key, _ = access_claims
    confused = key.as_pem(private=False)
    header = {"alg": "HS256", "kid": kid, "typ": "at+jwt"}
    assert _userinfo(browser, forge(header, claims, confused, "HS256")).status_code == 401


def test_id_token_as_access_token_is_refused(browser, access_claims):
    _claims, _kid, _key, tokens = access_claims
    assert _userinfo(browser, tokens["id_token"]).status_code == 401


def test_expired_access_token_is_refused(browser, access_claims):
    claims, kid, key, _ = access_claims
    claims = {**claims, "exp": int(time.time()) - 120, "iat": int(time.time()) - 800}
    token = forge({"alg": "ES256", "kid": kid, "typ": "at+jwt"}, claims, key, "ES256")
    assert _userinfo(browser, token).status_code == 401


def test_logout_hint_with_unknown_crit_does_not_redirect(browser, access_claims, flow, app,
                                                         provider):
    _claims, _kid, _key, tokens = access_claims
    payload = tokens["id_token"].split(".")[1]
    id_claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    with app.app_context():
        kid, rsa = provider.keys.signing_key("RS256")
    header = {"alg": "RS256", "kid": kid, "crit": ["x-vn"], "x-vn": True}
    hint = forge(header, id_claims, rsa, "RS256")
    response = browser.get("/logout", query_string={
        "id_token_hint": hint, "post_logout_redirect_uri": flow.portal.post_logout_uri,
        "state": "s1",
    })
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert id_claims["iss"] == ISSUER


def test_access_token_is_not_an_id_token_hint(browser, access_claims, flow):
    _claims, _kid, _key, tokens = access_claims
    response = browser.get("/logout", query_string={
        "id_token_hint": tokens["access_token"],
        "post_logout_redirect_uri": flow.portal.post_logout_uri,
    })
    assert response.status_code == 400 and "Location" not in response.headers
    # Still logged in: prompt=none answers with a code.
    again, *_ = flow.authorize(prompt="none")
    assert "code=" in again.headers["Location"]
