"""Discovery and JWKS are answered in front of Flask from the app's own kept response:
the same bytes and headers every time, a request id of their own, counted in the metrics,
and a new JWKS as soon as the key ring loads new keys."""

from __future__ import annotations

import re

import pytest

from tests.conftest import config
from tests.functional.test_authorize_errors import assert_security_headers

DISCOVERY = "/.well-known/openid-configuration"


def without_request_id(response) -> list[tuple[str, str]]:
    return sorted((name, value) for name, value in response.headers if name != "X-Request-ID")


@pytest.mark.parametrize("path", [DISCOVERY, "/jwks"])
def test_kept_answer_is_the_apps_answer_with_its_own_request_id(browser, path):
    first = browser.get(path)  # through Flask, kept
    again = browser.get(path, headers={"X-Request-ID": "lb-5678efgh"})
    third = browser.get(path)
    assert first.status_code == again.status_code == third.status_code == 200
    assert first.get_data() == again.get_data() == third.get_data()
    assert without_request_id(first) == without_request_id(again) == without_request_id(third)
    assert again.headers["X-Request-ID"] == "lb-5678efgh"
    assert third.headers["X-Request-ID"] not in {first.headers["X-Request-ID"], "lb-5678efgh"}
    assert_security_headers(again)
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    assert "public" in again.headers["Cache-Control"]


def test_head_and_other_methods(browser):
    browser.get("/jwks")
    head = browser.head("/jwks")
    assert head.status_code == 200 and head.get_data() == b""
    assert head.headers["Content-Type"] == "application/jwk-set+json"
    assert browser.post("/jwks").status_code == 405
    # A query string is not a document we keep: Flask answers it, with the same document.
    assert browser.get(DISCOVERY + "?x=1").get_json()["issuer"] == browser.get(
        DISCOVERY).get_json()["issuer"]


def _count(text: str, endpoint: str) -> float:
    pattern = rf'idp_http_requests_total{{endpoint="{endpoint}",method="GET",status="200"}} (\S+)'
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


def test_kept_answers_are_counted(browser):
    before = _count(browser.get("/metrics").get_data(as_text=True), "oidc.jwks")
    for _ in range(3):
        browser.get("/jwks")
    after = _count(browser.get("/metrics").get_data(as_text=True), "oidc.jwks")
    assert after - before == 3


@config(keys={"reload_seconds": 1})
def test_jwks_follows_keys_rotated_elsewhere(browser, provider, settings):
    """Another node (or `idp keys rotate`) rotates in the database; this node's JWKS
    shows the new next key once its ring reloads, without a restart."""
    import time

    from keys import make_backends
    from keys.rotation import rotate

    kids = {key["kid"] for key in browser.get("/jwks").get_json()["keys"]}
    browser.get("/jwks")  # the kept answer is in use
    with provider.db.sessions.begin() as session:
        rotate(session, make_backends(settings.keys)["software"], max_token_ttl=3600)
    time.sleep(1.1)
    now = {key["kid"] for key in browser.get("/jwks").get_json()["keys"]}
    assert now - kids, "the new next keys are published"
    assert kids <= now, "the retired keys stay published"
