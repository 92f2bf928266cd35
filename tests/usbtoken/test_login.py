"""Login with a USB token through HTTP: level 3 for good signatures, a clear refusal and
nothing recorded for every bad certificate, signature, origin or challenge."""

from __future__ import annotations

import time

import pytest

from connectors.pki import MESSAGES_VI
from idp.certificates.refusals import MESSAGES_VI as FLOW_MESSAGES
from tests.conftest import Flow, csrf_from
from tests.usbtoken.conftest import (
    AGENCY_BUDGET_CODE,
    CITIZEN_CCCD,
    EC_CITIZEN_CCCD,
    ENTERPRISE_MST,
    LEVEL_3,
    audit_rows,
    b64,
    counts,
    id_claims,
    new_browser,
    page_error,
    session_cookie,
    to_portal,
)


@pytest.mark.parametrize(("name", "algorithm"), [
    ("citizen-rsa", "RS256"), ("citizen-rsa", "PS256"), ("citizen-ec", "ES256"),
])
def test_citizen_logs_in_at_level_3(flow, signer, token_account, name, algorithm, app,
                                    provider):
    token_account(name)
    response, verifier, _, _ = flow.authorize(acr_values=LEVEL_3)
    location = response.headers["Location"]
    assert location.startswith("/login/usb?tx=")
    page = signer.open(location)
    assert 'id="usb-signer"' in page and "yêu cầu xác thực" in page
    response, _ = signer.login(location, name, algorithm=algorithm)
    assert response.status_code == 303, response.get_data(as_text=True)
    claims = id_claims(flow, to_portal(flow, response), verifier)
    assert claims["acr"] == LEVEL_3
    assert {"hwk", "sc", "mfa"} <= set(claims["amr"])
    assert claims["_userinfo"]["cccd"] == (CITIZEN_CCCD if name == "citizen-rsa"
                                           else EC_CITIZEN_CCCD)
    assert claims["_userinfo"]["ial"] == 3
    login = audit_rows(app, provider, "login")[-1]
    assert login.detail["method"] == "usb_token" and login.detail["acr"] == LEVEL_3


@pytest.mark.parametrize(("name", "claim", "value"), [
    ("enterprise", "tax_code", ENTERPRISE_MST), ("agency", "budget_code", AGENCY_BUDGET_CODE),
])
def test_organisation_logs_in_and_releases_its_codes(flow, signer, token_account, name,
                                                     claim, value):
    token_account(name)
    response, verifier, _, _ = flow.authorize(acr_values=LEVEL_3,
                                              scope="openid profile organization")
    response, _ = signer.login(response.headers["Location"], name)
    assert response.status_code == 303, response.get_data(as_text=True)
    claims = id_claims(flow, to_portal(flow, response), verifier)
    userinfo = claims["_userinfo"]
    assert claims["acr"] == LEVEL_3
    assert userinfo[claim] == value and userinfo["account_type"] == name
    assert userinfo["organization_name"]
    assert "cccd" not in userinfo and "birthdate" not in userinfo


def test_password_page_links_to_the_token(flow, signer, token_account):
    token_account("citizen-rsa")
    response, verifier, _, _ = flow.authorize()
    location = response.headers["Location"]
    assert location.startswith("/login?")
    tx = location.split("tx=")[1]
    assert f'href="/login/usb?tx={tx}"' in signer.open(location)
    response, _ = signer.login(f"/login/usb?tx={tx}", "citizen-rsa")
    claims = id_claims(flow, to_portal(flow, response), verifier)
    assert claims["acr"] == LEVEL_3


def test_unknown_certificate_is_told_to_register(flow, signer, app, provider):
    response, *_ = flow.authorize(acr_values=LEVEL_3)
    response, _ = signer.login(response.headers["Location"], "citizen-rsa")
    assert response.status_code == 400
    assert page_error(response) == FLOW_MESSAGES["not_registered"]
    assert counts(app, provider) == {"accounts": 0, "certificates": 0}


# --- refusals: each with its message, an audit row, and nothing recorded ----------------


def _refused(flow, signer, app, provider, reason: str, message: str, **options):
    before = counts(app, provider)
    response, *_ = flow.authorize(acr_values=LEVEL_3)
    response, fields = signer.login(response.headers["Location"],
                                    options.pop("name", "citizen-rsa"), **options)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert page_error(response) == message
    assert counts(app, provider) == before
    assert session_cookie(flow.browser) is None
    refusal = audit_rows(app, provider, "login.usb")[-1]
    assert (refusal.result, refusal.detail["reason"]) == ("refused", reason)
    return fields


@pytest.mark.parametrize(("name", "reason"), [
    ("expired", "expired"), ("not-yet-valid", "not_yet_valid"),
    ("no-digital-signature", "key_usage"), ("untrusted", "untrusted"), ("revoked", "revoked"),
])
def test_bad_certificates_are_refused(flow, signer, token_account, app, provider, name,
                                      reason):
    token_account("citizen-rsa")  # the same CCCD: only the certificate is wrong
    _refused(flow, signer, app, provider, reason, MESSAGES_VI[reason], name=name)


def test_signature_for_another_origin_is_refused(flow, signer, token_account, app, provider):
    token_account("citizen-rsa")
    _refused(flow, signer, app, provider, "bad_signature", MESSAGES_VI["bad_signature"],
             origin="https://evil.test")


def test_signature_by_another_key_is_refused(flow, signer, token_account, app, provider,
                                             usb_pki):
    token_account("citizen-rsa")
    _refused(flow, signer, app, provider, "bad_signature", MESSAGES_VI["bad_signature"],
             key=usb_pki.key("enterprise"))


def test_algorithm_that_does_not_fit_the_key_is_refused(flow, signer, token_account, app,
                                                        provider):
    token_account("citizen-rsa")
    _refused(flow, signer, app, provider, "unsupported_algorithm",
             MESSAGES_VI["unsupported_algorithm"], algorithm="ES256")


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("certificate", lambda pki, f: b64(pki.der("citizen-rsa")[:300]), "malformed"),
    ("certificate", lambda pki, f: b64(b"\x30\x82garbage" * 20), "malformed"),
    ("certificate", lambda pki, f: "không phải base64!", "malformed"),
    ("signature", lambda pki, f: f["signature"][:40], "bad_signature"),
    ("signature", lambda pki, f: b64(b"garbage" * 30), "bad_signature"),
    ("signature", lambda pki, f: "%%%", "malformed"),
    ("signature", lambda pki, f: "", "malformed"),
], ids=["cert-truncated", "cert-garbage", "cert-not-base64", "sig-truncated", "sig-garbage",
        "sig-not-base64", "sig-empty"])
def test_damaged_bytes_are_refused(flow, signer, token_account, app, provider, usb_pki,
                                   field, value, reason):
    token_account("citizen-rsa")
    before = counts(app, provider)
    response, *_ = flow.authorize(acr_values=LEVEL_3)
    location = response.headers["Location"]
    tx = location.split("tx=")[1]
    page = signer.open(location)
    fields = signer.fields("citizen-rsa", signer.challenge(page, "login", tx))
    fields[field] = value(usb_pki, fields)
    response = flow.browser.post("/login/usb", data={
        "csrf_token": csrf_from(page), "tx": tx, **fields})
    assert response.status_code == 400
    assert page_error(response) == MESSAGES_VI[reason]
    assert counts(app, provider) == before
    assert audit_rows(app, provider, "login.usb")[-1].detail["reason"] == reason


# --- challenges: single use, 5 minutes, bound to their login and browser ----------------


def test_captured_signature_replayed_later_is_refused(flow, signer, token_account, app,
                                                      provider):
    token_account("citizen-rsa")
    response, *_ = flow.authorize(acr_values=LEVEL_3)
    location = response.headers["Location"]
    tx = location.split("tx=")[1]
    page = signer.open(location)
    captured = {"csrf_token": csrf_from(page), "tx": tx,
                **signer.fields("citizen-rsa", signer.challenge(page, "login", tx))}
    assert flow.browser.post("/login/usb", data=captured).status_code == 303
    # The same post again (same browser, same login): the challenge is gone.
    replay = flow.browser.post("/login/usb", data=captured)
    assert replay.status_code == 400
    assert page_error(replay) == FLOW_MESSAGES["challenge_unknown"]
    assert audit_rows(app, provider, "login.usb")[-1].detail["reason"] == "challenge_unknown"


def test_challenge_older_than_five_minutes_is_refused(flow, signer, token_account, app,
                                                      provider):
    token_account("citizen-rsa")
    response, *_ = flow.authorize(acr_values=LEVEL_3)
    location = response.headers["Location"]
    tx = location.split("tx=")[1]
    page = signer.open(location)
    challenge = signer.challenge(page, "login", tx)
    with app.app_context():
        key = f"usb-challenge:{challenge}"
        record = provider.state.get(key)
        record["t"] = time.time() - 301
        provider.state.put(key, record, 60)
    response = flow.browser.post("/login/usb", data={
        "csrf_token": csrf_from(page), "tx": tx, **signer.fields("citizen-rsa", challenge)})
    assert response.status_code == 400
    assert page_error(response) == FLOW_MESSAGES["challenge_expired"]
    assert session_cookie(flow.browser) is None


def test_challenge_of_another_browser_is_refused(flow, signer, token_account, app, provider):
    token_account("citizen-rsa")
    response, *_ = flow.authorize(acr_values=LEVEL_3)
    location = response.headers["Location"]
    tx = location.split("tx=")[1]
    challenge = signer.challenge(signer.open(location), "login", tx)
    # Another browser starts its own login and presents the first browser's challenge.
    other = new_browser(app)
    response, *_ = Flow(other, flow.settings, flow.portal).authorize(acr_values=LEVEL_3)
    other_location = response.headers["Location"]
    other_tx = other_location.split("tx=")[1]
    page = other.get(other_location).get_data(as_text=True)
    response = other.post("/login/usb", data={
        "csrf_token": csrf_from(page), "tx": other_tx,
        **signer.fields("citizen-rsa", challenge)})
    assert response.status_code == 400
    assert page_error(response) == FLOW_MESSAGES["challenge_unknown"]


def test_challenge_needs_a_live_login(flow, signer):
    page = signer.open("/register/usb/citizen")
    response = flow.browser.post("/usb/challenge", data={"flow": "login", "ref": "nope"},
                                 headers={"X-CSRFToken": csrf_from(page)})
    assert response.status_code == 400 and "hết hạn" in response.get_json()["message"]
    # Without the CSRF token no challenge is issued at all.
    assert flow.browser.post("/usb/challenge", data={"flow": "register",
                                                     "ref": "citizen"}).status_code == 400


def test_login_page_may_call_the_agent_only(flow, signer):
    response, *_ = flow.authorize(acr_values=LEVEL_3)
    page = flow.browser.get(response.headers["Location"])
    policy = page.headers["Content-Security-Policy"]
    assert "connect-src 'self' http://127.0.0.1:14565" in policy
    assert f"form-action 'self' {flow.portal.redirect_uri.rsplit('/', 1)[0]}" in policy


def test_discovery_lists_the_organization_scope_and_level_3(browser):
    metadata = browser.get("/.well-known/openid-configuration").get_json()
    assert "organization" in metadata["scopes_supported"]
    assert {"tax_code", "organization_name", "budget_code"} <= set(metadata["claims_supported"])
    assert LEVEL_3 in metadata["acr_values_supported"]
