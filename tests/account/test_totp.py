"""Authenticator app: enrolment with a QR code and a first code, then login with it instead
of the SMS code; replayed and wrong codes refused, tries shared with the SMS code."""

from __future__ import annotations

import base64
import json
import re
import time

import pyotp
from sqlalchemy import select

from idp.store.models import Account, AuditEvent
from tests.account.conftest import console_login, post_form
from tests.conftest import Flow, basic, csrf_from, query


def enrol(browser, settings, person) -> str:
    """Enrol an app from the console; returns the secret shown on the page."""
    console_login(browser, settings, person)
    page = browser.get("/account/totp").get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    # Reloading shows the same secret: the QR code already scanned stays valid.
    assert secret in browser.get("/account/totp").get_data(as_text=True).replace(" ", "")
    response = post_form(browser, "/account/totp", "/account/totp",
                         code=pyotp.TOTP(secret).now())
    assert response.status_code == 303, response.get_data(as_text=True)
    return secret


def to_otp_screen(flow: Flow, person) -> tuple[str, str]:
    """Start a portal login and pass the password; returns (tx, OTP page HTML)."""
    response, *_ = flow.authorize()
    location = response.headers["Location"]
    response = flow.submit_password(location, person.cccd, person.password)
    assert response.status_code == 303
    tx = query(location)["tx"]
    return tx, flow.browser.get("/login/otp", query_string={"tx": tx}).get_data(as_text=True)


def post_totp(browser, tx: str, code: str):
    page = browser.get("/login/otp", query_string={"tx": tx}).get_data(as_text=True)
    return browser.post("/login/totp", data={"csrf_token": csrf_from(page), "tx": tx,
                                             "totp": code})


def next_code(secret: str) -> str:
    """The next time step's code: valid now (±1 step) and not the one used to enrol."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_enrol_then_log_in_with_the_app(app, browser, other_browser, settings, make_account,
                                        make_portal, provider):
    from idp.security.sealed import unseal

    account_id, person = make_account()
    console_login(browser, settings, person)
    page = browser.get("/account/totp").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    wrong = post_form(browser, "/account/totp", "/account/totp", code="123456")
    assert wrong.status_code == 400 and "không đúng" in wrong.get_data(as_text=True)
    response = post_form(browser, "/account/totp", "/account/totp",
                         code=pyotp.TOTP(secret).now())
    assert response.status_code == 303
    assert "Đã đăng ký" in browser.get("/account/security").get_data(as_text=True)
    with provider.db.sessions() as session:
        sealed = session.get(Account, account_id).totp_secret
    assert secret not in sealed
    with app.app_context():
        assert unseal(sealed, "account-totp") == secret

    portal = make_portal("portal-a")
    flow = Flow(other_browser, settings, portal)
    tx, otp_page = to_otp_screen(flow, person)
    assert 'id="totp"' in otp_page and 'id="lost-phone"' in otp_page
    code = next_code(secret)
    response = post_totp(other_browser, tx, code)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert "/consent?" in response.headers["Location"]
    auth_location = flow.consent(response.headers["Location"]).headers["Location"]
    assert auth_location.startswith(portal.redirect_uri) and "code=" in auth_location
    with provider.db.sessions() as session:
        login = session.scalars(select(AuditEvent).where(AuditEvent.event == "login")
                                .order_by(AuditEvent.id.desc())).first()
    assert login.detail["method"] == "pwd+totp"

    # The same code again, in a third login: refused as a replay.
    third = app.test_client()
    tx, _ = to_otp_screen(Flow(third, settings, portal), person)
    replay = post_totp(third, tx, code)
    assert replay.status_code == 400 and "đã được dùng" in replay.get_data(as_text=True)


def test_app_code_gives_amr_without_sms(browser, settings, make_account, make_portal):
    _, person = make_account()
    secret = enrol(browser, settings, person)
    portal = make_portal("portal-a")
    flow = Flow(browser, settings, portal)
    response, verifier, *_ = flow.authorize(prompt="login")
    location = response.headers["Location"]
    flow.submit_password(location, person.cccd, person.password)
    response = post_totp(browser, query(location)["tx"], next_code(secret))
    response = flow.consent(response.headers["Location"])
    code = query(response.headers["Location"])["code"]
    tokens = browser.post("/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": portal.redirect_uri,
        "code_verifier": verifier}, headers={"Authorization": basic(portal)}).get_json()
    payload = tokens["id_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["acr"] == "urn:vn:sso:loa:2"


def test_wrong_app_codes_use_the_otp_tries(browser, settings, make_account, make_portal):
    _, person = make_account()
    enrol(browser, settings, person)
    flow = Flow(browser, settings, make_portal("portal-a"))
    tx, _ = to_otp_screen(flow, person)
    wrong = flow.submit_otp(tx, "000000")  # one wrong SMS code
    assert "còn 4 lần" in wrong.get_data(as_text=True)
    for left in (3, 2, 1):
        response = post_totp(browser, tx, "000000")
        assert f"Bạn còn {left} lần thử" in response.get_data(as_text=True)
    response = post_totp(browser, tx, "000000")
    assert response.status_code == 400
    assert "quá số lần cho phép" in response.get_data(as_text=True)
    # This try is over: back to the password step of the same login.
    again = browser.get("/login/otp", query_string={"tx": tx})
    assert again.status_code == 302 and f"/login?tx={tx}" in again.headers["Location"]


def test_remove_the_app(browser, settings, make_account, provider):
    account_id, person = make_account()
    enrol(browser, settings, person)
    response = post_form(browser, "/account/security", "/account/totp/remove")
    assert response.status_code == 303
    with provider.db.sessions() as session:
        assert session.get(Account, account_id).totp_secret is None
    assert "Chưa đăng ký" in browser.get("/account/security").get_data(as_text=True)
