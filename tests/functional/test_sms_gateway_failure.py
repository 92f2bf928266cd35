"""An SMS gateway that refuses or fails never hides the other ways in (DESIGN §7).

The gateway is a real HTTP server on loopback that answers 503 or 400, or is not there
at all; the provider reaches it through its real HTTP connector.
"""

from __future__ import annotations

import re

import pyotp
import pytest

from connectors.simulators.serving import start
from idp.store.models import Account
from tests.conftest import csrf_from, query, went_on


class Gateway:
    """An SMS gateway on loopback that refuses (HTTP 4xx/5xx) or is not there at all."""

    def __init__(self, status: int) -> None:
        from flask import Flask

        self.requests = 0
        gateway = Flask("broken-sms-gateway")

        @gateway.post("/send")
        def send():
            self.requests += 1
            return {"error": "refused"}, status

        self.server = start(gateway)
        self.url = self.server.url + "/send"

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(params=[503, 400, "down"])
def gateway(request):
    box = Gateway(503 if request.param == "down" else request.param)
    if request.param == "down":
        box.stop()  # nothing listens there any more: connection refused
    yield box
    if request.param != "down":
        box.stop()


@pytest.fixture
def overrides(gateway) -> dict:
    return {"sms": {"connector": "sms.http", "gateway_url": gateway.url,
                    "gateway_api_key": "k", "connect_timeout": 0.5, "read_timeout": 0.5}}


def enrol_app(app, provider, account_id: int) -> pyotp.TOTP:
    from idp.security.sealed import seal
    from idp.security.totp import ACCOUNT_PURPOSE as PURPOSE

    secret = pyotp.random_base32()
    with app.app_context():
        session = provider.db.session
        session.get(Account, account_id).totp_secret = seal(secret, PURPOSE)
        session.commit()
    return pyotp.TOTP(secret)


def test_failed_sms_leads_to_the_code_page_and_the_app_logs_in(
        flow, make_account, app, provider, gateway):
    account_id, person = make_account(extra_phones=["+84987654321"])
    totp = enrol_app(app, provider, account_id)
    response, *_ = flow.authorize()
    location = response.headers["Location"]
    tx = query(location)["tx"]
    response = flow.submit_password(location, person.cccd, person.password)
    assert response.status_code == 303 and "/login/otp" in response.headers["Location"]
    page = flow.browser.get(response.headers["Location"]).get_data(as_text=True)
    # The app comes first and no SMS was even tried.
    assert gateway.requests == 0
    assert page.index('id="totp"') < page.index("Nhận mã OTP qua SMS")
    # The citizen asks for an SMS anyway: the gateway fails, the page says so, nothing is lost.
    phone_id = re.search(r'name="phone_id" value="(\d+)"', page).group(1)
    response = flow.browser.post("/login/otp/resend", data={
        "csrf_token": csrf_from(page), "tx": tx, "phone_id": phone_id})
    html = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "không gửi được mã OTP" in html
    assert 'id="totp"' in html and 'id="lost-phone"' in html and "bộ phận một cửa" in html
    # The app's code logs in.
    response = flow.browser.post("/login/totp", data={
        "csrf_token": csrf_from(html), "tx": tx, "totp": totp.now()})
    assert went_on(response, flow.portal), response.headers.get("Location")


def test_failed_sms_without_an_app_still_shows_every_other_way(flow, make_account, gateway):
    _, person = make_account(extra_phones=["+84987654321"])
    response, *_ = flow.authorize()
    response = flow.submit_password(response.headers["Location"], person.cccd, person.password)
    assert response.status_code == 303 and "/login/otp" in response.headers["Location"]
    html = flow.browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "không gửi được mã OTP" in html
    assert "Nhận mã OTP qua SMS tới số" in html  # every phone of the account
    assert 'id="lost-phone"' in html and "bộ phận một cửa" in html
    assert 'id="back-to-portal"' in html
