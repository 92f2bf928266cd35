"""Back-channel logout in the demo portal (examples/portal.py).

Logout tokens are signed with a real RSA key made here. The only thing replaced is the
portal's JWKS fetch (``Portal.fetch_jwks``): a unit test has no IdP to serve discovery and
``jwks_uri``, so that one method returns this key's public JWKS instead. Everything else —
joserfc's signature check, the claim rules, the session table — is the portal's own code.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

ISSUER = "http://127.0.0.1:5000"
CLIENT_ID = "national-portal"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
KID = "idp-signing-1"


def _load_portal_module() -> ModuleType:
    # examples/ is not a package (and tests/examples shadows its name), so load by path.
    path = Path(__file__).resolve().parents[2] / "examples" / "portal.py"
    spec = importlib.util.spec_from_file_location("demo_portal", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


portal_module = _load_portal_module()


@pytest.fixture(scope="module")
def idp_key() -> RSAKey:
    """The IdP's signing key (private part used here to sign logout tokens)."""
    return RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig"})


@pytest.fixture
def jwks_fetches() -> list[bool]:
    """The ``force`` argument of every JWKS fetch the portal made."""
    return []


@pytest.fixture
def published_keys(idp_key: RSAKey) -> list[RSAKey]:
    """Keys the fake JWKS endpoint publishes; a test may swap them to simulate rotation."""
    return [idp_key]


@pytest.fixture
def app(
    monkeypatch: pytest.MonkeyPatch, jwks_fetches: list[bool], published_keys: list[RSAKey]
) -> Flask:
    """A national portal whose JWKS fetch serves ``published_keys`` (no IdP needed).

    Like the real fetch, the first answer is cached until a forced refresh.
    """
    app = portal_module.create_portal_app(
        name="Cổng Dịch vụ công Quốc gia",
        kind="national",
        issuer=ISSUER,
        client_id=CLIENT_ID,
        client_secret="test-secret",
        base_url="http://127.0.0.1:5001",
    )
    app.testing = True
    portal = app.extensions["portal"]

    cache: dict[str, Any] = {}

    def fetch_jwks(force: bool = False) -> dict[str, Any]:
        jwks_fetches.append(force)
        if force or not cache:
            cache.update(KeySet(list(published_keys)).as_dict(private=False))
        return cache

    monkeypatch.setattr(portal, "fetch_jwks", fetch_jwks)
    return app


def sign_in(app: Flask, sid: str, sub: str = "user-001") -> FlaskClient:
    """A browser with a portal session as if it had signed in under IdP session ``sid``."""
    portal = app.extensions["portal"]
    record = portal_module.PortalSession(
        id_token="id-token-placeholder",
        id_claims={"iss": ISSUER, "sub": sub, "aud": CLIENT_ID, "sid": sid},
        userinfo={"sub": sub, "name": "Nguyễn Văn An"},
    )
    client = app.test_client()
    with client.session_transaction() as cookie_session:
        cookie_session["psid"] = portal.sessions.create(record)
    assert logged_in(client)
    return client


def logged_in(client: FlaskClient) -> bool:
    """What /api/session says for this browser."""
    response = client.get("/api/session")
    assert response.status_code == 200
    return bool(response.get_json()["logged_in"])


def logout_claims(**overrides: Any) -> dict[str, Any]:
    """Claims of a valid logout token for session ``sid-1``; ``None`` removes a claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": f"jti-{time.monotonic_ns()}",
        "sub": "user-001",
        "sid": "sid-1",
        "events": {EVENT: {}},
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(claims: dict[str, Any], key: RSAKey | OctKey, alg: str = "RS256", **header: Any) -> str:
    """Serialize ``claims`` as a compact JWS signed with ``key``."""
    return jwt.encode({"alg": alg, "kid": KID, "typ": "logout+jwt", **header}, claims, key)


def b64url(data: bytes) -> str:
    """Base64url without padding, as JOSE wants it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def post_logout(app: Flask, token: str | None) -> Any:
    """POST a logout token to the back-channel endpoint, as the IdP does (no cookies)."""
    data = {} if token is None else {"logout_token": token}
    return app.test_client().post("/backchannel-logout", data=data)


def test_valid_logout_token_ends_sessions_of_that_sid(app: Flask, idp_key: RSAKey) -> None:
    target = sign_in(app, "sid-1")
    other_tab = sign_in(app, "sid-1")
    bystander = sign_in(app, "sid-2", sub="user-002")

    response = post_logout(app, sign(logout_claims(), idp_key))

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert not logged_in(target)
    assert not logged_in(other_tab)
    assert logged_in(bystander)


def test_logout_token_with_only_sub_ends_all_sessions_of_that_subject(
    app: Flask, idp_key: RSAKey
) -> None:
    first = sign_in(app, "sid-1", sub="user-001")
    second = sign_in(app, "sid-9", sub="user-001")
    bystander = sign_in(app, "sid-2", sub="user-002")

    response = post_logout(app, sign(logout_claims(sid=None), idp_key))

    assert response.status_code == 200
    assert not logged_in(first)
    assert not logged_in(second)
    assert logged_in(bystander)


def test_audience_list_containing_client_id_is_accepted(app: Flask, idp_key: RSAKey) -> None:
    browser = sign_in(app, "sid-1")
    token = sign(logout_claims(aud=["another-client", CLIENT_ID]), idp_key)
    assert post_logout(app, token).status_code == 200
    assert not logged_in(browser)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        pytest.param({"nonce": "n-0S6_WzA2Mj"}, "nonce", id="nonce-present"),
        pytest.param({"aud": "residence-portal"}, "'aud'", id="wrong-aud"),
        pytest.param({"aud": None}, "'aud'", id="missing-aud"),
        pytest.param({"iss": "http://127.0.0.1:6000"}, "'iss'", id="wrong-iss"),
        pytest.param({"events": None}, "event", id="missing-events"),
        pytest.param({"events": {"http://example.invalid/other": {}}}, "event", id="other-event"),
        pytest.param({"events": [EVENT]}, "event", id="events-not-object"),
        pytest.param({"sid": None, "sub": None}, "neither sid nor sub", id="no-sid-no-sub"),
        pytest.param({"iat": None}, "'iat'", id="missing-iat"),
        pytest.param({"iat": int(time.time()) - 3600}, "too old", id="stale-iat"),
        pytest.param({"iat": int(time.time()) + 3600}, "future", id="future-iat"),
        pytest.param({"exp": int(time.time()) - 3600}, "expired", id="expired"),
    ],
)
def test_invalid_claims_are_rejected(
    app: Flask, idp_key: RSAKey, overrides: dict[str, Any], reason: str
) -> None:
    browser = sign_in(app, "sid-1")

    response = post_logout(app, sign(logout_claims(**overrides), idp_key))

    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid_request"
    assert reason in body["error_description"]
    assert response.headers["Cache-Control"] == "no-store"
    assert logged_in(browser)


def test_alg_none_is_rejected(app: Flask) -> None:
    browser = sign_in(app, "sid-1")
    header = b64url(json.dumps({"alg": "none", "kid": KID}).encode())
    payload = b64url(json.dumps(logout_claims()).encode())

    response = post_logout(app, f"{header}.{payload}.")

    assert response.status_code == 400
    assert "'none' is not allowed" in response.get_json()["error_description"]
    assert logged_in(browser)


def test_bad_signature_is_rejected(app: Flask) -> None:
    browser = sign_in(app, "sid-1")
    impostor = RSAKey.generate_key(2048, parameters={"kid": KID})

    response = post_logout(app, sign(logout_claims(), impostor))

    assert response.status_code == 400
    assert "bad_signature" in response.get_json()["error_description"]
    assert logged_in(browser)


def test_tampered_payload_is_rejected(app: Flask, idp_key: RSAKey) -> None:
    browser = sign_in(app, "sid-1")
    header, _, signature = sign(logout_claims(sid="sid-other"), idp_key).split(".")
    payload = b64url(json.dumps(logout_claims()).encode())

    response = post_logout(app, f"{header}.{payload}.{signature}")

    assert response.status_code == 400
    assert "bad_signature" in response.get_json()["error_description"]
    assert logged_in(browser)


def test_hmac_token_is_rejected(app: Flask) -> None:
    browser = sign_in(app, "sid-1")
    shared = OctKey.generate_key(256, parameters={"kid": KID})

    response = post_logout(app, sign(logout_claims(), shared, alg="HS256"))

    assert response.status_code == 400
    assert "'HS256' is not allowed" in response.get_json()["error_description"]
    assert logged_in(browser)


def test_unexpected_typ_is_rejected(app: Flask, idp_key: RSAKey) -> None:
    browser = sign_in(app, "sid-1")
    response = post_logout(app, sign(logout_claims(), idp_key, typ="at+jwt"))
    assert response.status_code == 400
    assert logged_in(browser)


@pytest.mark.parametrize("token", [None, "", "not-a-jwt"], ids=["absent", "empty", "garbage"])
def test_missing_or_malformed_token_is_rejected(app: Flask, token: str | None) -> None:
    response = post_logout(app, token)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_replayed_token_is_rejected(app: Flask, idp_key: RSAKey) -> None:
    token = sign(logout_claims(), idp_key)
    assert post_logout(app, token).status_code == 200
    assert post_logout(app, token).status_code == 400


def test_rotated_key_triggers_one_forced_jwks_refresh(
    app: Flask, jwks_fetches: list[bool], published_keys: list[RSAKey]
) -> None:
    browser = sign_in(app, "sid-1")
    rotated = RSAKey.generate_key(2048, parameters={"kid": "idp-signing-2"})
    token = sign(logout_claims(), rotated, kid="idp-signing-2")

    app.extensions["portal"].fetch_jwks()  # cached before the IdP rotates its keys
    published_keys.append(rotated)
    response = post_logout(app, token)

    assert response.status_code == 200
    assert jwks_fetches == [False, False, True]
    assert not logged_in(browser)


def test_unknown_kid_refreshes_jwks_at_most_once_per_interval(
    app: Flask, jwks_fetches: list[bool]
) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "unknown"})

    for _ in range(2):
        token = sign(logout_claims(), stranger, kid="unknown")
        assert post_logout(app, token).status_code == 400
    assert jwks_fetches.count(True) == 1
