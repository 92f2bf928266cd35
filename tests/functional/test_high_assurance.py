"""PAR, private_key_jwt and DPoP, request by request, on both backends (no browser needed).

tests/functional/test_fapi2_rp.py drives whole flows with an independent client
library; here each malformed, expired, replayed or misdirected piece is sent by
hand, and the tests check the RFC's error and that nothing was spent.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.conftest import ISSUER, Flow, Portal, csrf_from, last_otp, pkce_pair, query
from tests.node_rp import client_key, public_jwks

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class KeyedPortal:
    portal: Portal
    key: ECKey

    @property
    def client_id(self) -> str:
        return self.portal.client_id

    def assertion(self, **claims) -> str:
        now = int(time.time())
        body = {"iss": self.client_id, "sub": self.client_id, "aud": ISSUER,
                "iat": now, "exp": now + 60, "jti": secrets.token_urlsafe(16), **claims}
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode({"alg": "ES256", "kid": self.key.kid}, body, self.key)

    def auth(self, **claims) -> dict:
        return {"client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.assertion(**claims)}

    def request(self, **params) -> dict:
        verifier, challenge = pkce_pair()
        base = {"response_type": "code", "client_id": self.client_id,
                "redirect_uri": self.portal.redirect_uri, "scope": "openid profile",
                "state": "st-" + secrets.token_urlsafe(6), "nonce": "n",
                "code_challenge": challenge, "code_challenge_method": "S256"}
        return {k: v for k, v in {**base, **params}.items() if v is not None}


@pytest.fixture
def bank(make_portal) -> KeyedPortal:
    key = client_key("bank-1")
    portal = make_portal("bank", profile="fapi2", token_endpoint_auth_method="private_key_jwt",
                         jwks=public_jwks(key))
    return KeyedPortal(portal, key)


def push(browser, bank: KeyedPortal, headers=None, **params):
    return browser.post("/par", data={**bank.request(**params), **bank.auth()},
                        headers=headers or {})


# --- PAR -------------------------------------------------------------------------------------


def test_pushed_request_gives_a_single_use_request_uri(browser, bank):
    answer = push(browser, bank)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert body["expires_in"] == 60
    assert answer.headers["Cache-Control"] == "no-store"
    first = browser.get("/authorize", query_string={"client_id": "bank",
                                                    "request_uri": body["request_uri"]})
    assert first.status_code == 302 and "/login" in first.headers["Location"]
    again = browser.get("/authorize", query_string={"client_id": "bank",
                                                    "request_uri": body["request_uri"]})
    assert again.status_code == 400 and "invalid_request_uri" in again.get_data(as_text=True)


@pytest.mark.parametrize("change, error, status", [
    ({"redirect_uri": "https://evil.test/cb"}, "invalid_request", 400),
    ({"code_challenge_method": "plain"}, "invalid_request", 400),
    ({"scope": "profile"}, "invalid_scope", 400),
    ({"response_type": "token"}, "unsupported_response_type", 400),
    ({"request_uri": "urn:ietf:params:oauth:request_uri:x"}, "invalid_request", 400),
    ({"client_id": "portal-a"}, "invalid_request", 400),
    ({"prompt": "none login"}, "invalid_request", 400),
])
def test_pushed_request_checked_like_authorize(browser, bank, change, error, status):
    answer = push(browser, bank, **change)
    assert answer.status_code == status, answer.get_json()
    assert answer.get_json()["error"] == error


def test_push_needs_client_authentication(browser, bank):
    for auth in ({}, {"client_assertion_type": ASSERTION_TYPE, "client_assertion": "x.y.z"},
                 {"client_secret": "s" * 43, "client_id": "bank"}):
        answer = browser.post("/par", data={**bank.request(), **auth})
        assert answer.get_json()["error"] == "invalid_client", auth
    assert browser.post("/par").get_json()["error"] == "invalid_client"


def test_duplicate_and_oversized_pushes(browser, bank):
    body = urlencode([*bank.request().items(), ("scope", "openid"), *bank.auth().items()])
    answer = browser.post("/par", data=body,
                          content_type="application/x-www-form-urlencoded")
    assert answer.get_json()["error"] == "invalid_request"
    huge = browser.post("/par", data={**bank.request(state="x" * 70000), **bank.auth()})
    assert huge.status_code == 413 and huge.get_json()["error"] == "invalid_request"


def test_standard_client_required_to_push(browser, flow, make_portal):
    portal = make_portal("ministry", require_par=True)
    plain = Flow(browser, flow.settings, portal).authorize()[0]
    assert query(plain.headers["Location"])["error"] == "invalid_request"


# --- private_key_jwt ---------------------------------------------------------------------------


@pytest.mark.parametrize("claims", [
    {"exp": int(time.time()) - 120},          # expired
    {"exp": int(time.time()) + 3600},         # lives too long to remember its jti
    {"jti": None},                            # no jti
    {"iss": "insurer"},                       # iss is not sub
    {"aud": ISSUER + "/token"},               # not the issuer identifier
    {"aud": [ISSUER]},                        # not a string
])
def test_bad_client_assertions(browser, bank, claims):
    answer = browser.post("/par", data={**bank.request(), "client_assertion_type": ASSERTION_TYPE,
                                        "client_assertion": bank.assertion(**claims)})
    assert answer.get_json()["error"] == "invalid_client", claims


def test_assertion_signed_by_another_key_or_alg(browser, bank):
    stranger = KeyedPortal(bank.portal, client_key("bank-1"))  # same kid, other key
    answer = browser.post("/par", data={**bank.request(), **stranger.auth()})
    assert answer.get_json()["error"] == "invalid_client"
    rsa = RSAKey.generate_key(2048, {"kid": "bank-1"})
    token = jwt.encode({"alg": "RS256", "kid": "bank-1"},
                       {"iss": "bank", "sub": "bank", "aud": ISSUER, "jti": "j" * 16,
                        "exp": int(time.time()) + 60}, rsa)
    answer = browser.post("/par", data={**bank.request(), "client_assertion": token,
                                        "client_assertion_type": ASSERTION_TYPE})
    assert answer.get_json()["error"] == "invalid_client"  # RS256: not for a fapi2 client


class KeyServer:
    """A portal's jwks_uri on loopback, counting how often the provider fetches it."""

    def __init__(self, jwks: dict) -> None:
        self.jwks, self.fetches = jwks, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                outer.fetches += 1
                body = __import__("json").dumps(outer.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks"


def test_jwks_uri_cached_and_fetched_again_for_a_new_kid(browser, make_portal, app):
    old, new = client_key("k-old"), client_key("k-new")
    keys = KeyServer(public_jwks(old))
    portal = make_portal("rotating", profile="fapi2", token_endpoint_auth_method="private_key_jwt",
                         jwks_uri=keys.url)
    try:
        with_old = KeyedPortal(portal, old)
        for _ in range(3):
            assert push(browser, with_old).status_code == 201
        assert keys.fetches == 1  # cached
        keys.jwks = public_jwks(new)  # the portal rotates its key
        app.extensions["idp.provider"].client_keys.refresh_floor = 0
        assert push(browser, KeyedPortal(portal, new)).status_code == 201
        assert keys.fetches == 2
        app.extensions["idp.provider"].client_keys.refresh_floor = 3600
        for _ in range(3):  # forged kids do not make the provider fetch again
            forged = KeyedPortal(portal, client_key(f"forged-{_}"))
            assert push(browser, forged).get_json()["error"] == "invalid_client"
        assert keys.fetches == 2
    finally:
        keys.server.shutdown()


# --- DPoP ----------------------------------------------------------------------------------------


def proof(key: ECKey, htm: str = "POST", htu: str = ISSUER + "/token", **claims) -> str:
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    header.update(claims.pop("header", {}))
    body = {"htm": htm, "htu": htu, "iat": int(time.time()), "jti": secrets.token_urlsafe(12),
            **claims}
    return jwt.encode(header, {k: v for k, v in body.items() if v is not None}, key,
                      algorithms=[header["alg"]])


def fresh_nonce(browser, bank, key) -> str:
    answer = push(browser, bank, headers={"DPoP": proof(key, htu=ISSUER + "/par")})
    assert answer.get_json()["error"] == "use_dpop_nonce"
    return answer.headers["DPoP-Nonce"]


@pytest.fixture
def dpop_key() -> ECKey:
    return ECKey.generate_key("P-256")


@pytest.mark.parametrize("change", [
    {"htm": "GET"},
    {"htu": ISSUER + "/token"},
    {"htu": "https://other.test/par"},
    {"iat": int(time.time()) - 600},
    {"jti": None},
    {"header": {"typ": "JWT"}},
])
def test_malformed_dpop_proofs_at_par(browser, bank, dpop_key, change):
    nonce = fresh_nonce(browser, bank, dpop_key)
    change = dict(change)  # the parameter is shared by both backends' runs
    bad = proof(dpop_key, htu=change.pop("htu", ISSUER + "/par"), htm=change.pop("htm", "POST"),
                nonce=nonce, **change)
    answer = push(browser, bank, headers={"DPoP": bad})
    assert answer.get_json()["error"] == "invalid_dpop_proof", answer.get_json()


def test_dpop_proof_with_a_private_or_symmetric_key(browser, bank, dpop_key):
    nonce = fresh_nonce(browser, bank, dpop_key)
    leaked = proof(dpop_key, htu=ISSUER + "/par", nonce=nonce,
                   header={"jwk": dpop_key.as_dict(private=True)})
    assert push(browser, bank, headers={"DPoP": leaked}).get_json()["error"] == \
        "invalid_dpop_proof"
    for junk in ("", "a.b.c", "x" * 5000):
        assert push(browser, bank, headers={"DPoP": junk}).get_json()["error"] == \
            "invalid_dpop_proof"


def test_dpop_nonce_required_and_proof_used_once(browser, bank, dpop_key):
    nonce = fresh_nonce(browser, bank, dpop_key)
    good = proof(dpop_key, htu=ISSUER + "/par", nonce=nonce)
    assert push(browser, bank, headers={"DPoP": good}).status_code == 201
    replayed = push(browser, bank, headers={"DPoP": good})
    assert replayed.get_json()["error"] == "invalid_dpop_proof"
    forged = proof(dpop_key, htu=ISSUER + "/par", nonce="1.AAAAAAAAAAAAAAAAAAAAAA")
    assert push(browser, bank, headers={"DPoP": forged}).get_json()["error"] == "use_dpop_nonce"


def test_dpop_jkt_must_match_the_proof(browser, bank, dpop_key):
    nonce = fresh_nonce(browser, bank, dpop_key)
    answer = push(browser, bank, dpop_jkt=ECKey.generate_key("P-256").thumbprint(),
                  headers={"DPoP": proof(dpop_key, htu=ISSUER + "/par", nonce=nonce)})
    assert answer.get_json()["error"] == "invalid_dpop_proof"


def test_code_bound_at_par_needs_the_same_key(browser, bank, dpop_key, make_account, settings):
    """RFC 9449 §10.1: the code of a request pushed with a proof is redeemed with that key."""
    _, person = make_account()
    nonce = fresh_nonce(browser, bank, dpop_key)
    verifier, challenge = pkce_pair()
    pushed = push(browser, bank, code_challenge=challenge,
                  headers={"DPoP": proof(dpop_key, htu=ISSUER + "/par", nonce=nonce)})
    location = browser.get("/authorize", query_string={
        "client_id": "bank", "request_uri": pushed.get_json()["request_uri"]}).headers["Location"]
    code = _login(browser, settings, person, location)["code"]
    other = ECKey.generate_key("P-256")
    answer = browser.post("/token", data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "redirect_uri": bank.portal.redirect_uri, **bank.auth()},
        headers={"DPoP": proof(other, nonce=nonce)})
    assert answer.get_json()["error"] == "invalid_grant"


def _login(browser, settings, person, location: str) -> dict:
    tx = query(location)["tx"]
    page = browser.get(location)
    browser.post("/login", data={"csrf_token": csrf_from(page.get_data(as_text=True)), "tx": tx,
                                 "cccd": person.cccd, "password": person.password})
    page = browser.get("/login/otp", query_string={"tx": tx})
    done = browser.post("/login/otp", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                            "tx": tx, "otp": last_otp(settings)})
    location = done.headers["Location"]
    page = browser.get(location)
    done = browser.post("/consent", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                          "tx": query(location)["tx"], "decision": "allow"})
    return query(done.headers["Location"])
