"""End to end in Debian's Chromium: the account console and the lost-phone self-service.

The provider under gunicorn with the carrier/BHXH/Post simulators, the two example
portals as their own processes, the browser through Playwright.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from contextlib import ExitStack
from pathlib import Path

import pyotp
import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.store.models import Account, OtpPhone
from tests.browser import chromium_browser  # noqa: F401 - pytest fixture
from tests.live import LivePortal, LiveProvider, free_port

pytestmark = pytest.mark.browser

PASSWORD = "Song-Hong#Mua-Thu-2031"
CITIZEN = {"cccd": "001085012345", "full_name": "Nguyễn Văn An", "birthdate": "1985-03-15",
           "gender": "male", "phone": "0912345678", "email": "an@example.vn"}
APP_USER = {"cccd": "001085012346", "full_name": "Nguyễn Văn Bình", "birthdate": "1985-03-16",
            "gender": "male", "phone": "0912345679", "email": ""}
ROBBED = {"cccd": "001185012347", "full_name": "Nguyễn Thị Cúc", "birthdate": "1985-03-17",
          "gender": "female", "phone": "0912345670", "email": ""}
STRANGER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 "
                  "Firefox/133.0")


class SimulatedRegistriesProvider(LiveProvider):
    """A live provider whose carrier, BHXH and Post connectors talk to the simulators."""

    def __init__(self, directory: Path, simulators: dict, **options) -> None:
        super().__init__(directory, **options)
        with self.config.open("a", encoding="utf-8") as config:
            for name, simulator in simulators.items():
                config.write(f'[{name}]\nurl = "{simulator.url}"\n')

    def phones(self, cccd: str) -> list[str]:
        with Session(self.engine) as session:
            account_id = session.scalar(select(Account.id).where(Account.cccd_is(cccd)))
            return list(session.scalars(select(OtpPhone.phone).where(
                OtpPhone.account_id == account_id).order_by(OtpPhone.id)))


@pytest.fixture(scope="module")
def stack(tmp_path_factory, simulators):
    from connectors.simulators.fixtures import load_fixtures

    directory = tmp_path_factory.mktemp("e2e-account")
    with ExitStack() as started:  # what did start stops, also when a later part fails
        provider = SimulatedRegistriesProvider(directory, simulators, workers=2, threads=4)
        started.callback(provider.stop)
        provider.start()
        fixtures = load_fixtures()
        for person in (CITIZEN, APP_USER, ROBBED, fixtures.one("carrier: two subscriptions").form(),
                       fixtures.one("carrier: full match").form()):
            provider.add_account(person, PASSWORD)
        national = LivePortal(provider, "cong-dvc-quoc-gia", "national", free_port(), directory)
        started.callback(national.stop)
        residence = LivePortal(provider, "cong-cu-tru", "residence", free_port(), directory)
        started.callback(residence.stop)
        yield provider, national, residence, fixtures


def _logged_in(page, portal: LivePortal) -> bool:
    return page.request.get(portal.url + "/api/session").json()["logged_in"]


def _at(page, url: str) -> None:
    """Wait until the browser is on a page whose address starts with `url`."""
    expect(page).to_have_url(re.compile("^" + re.escape(url)))


def _password_step(page, provider, cccd: str, *, then: str = "#countdown") -> None:
    _at(page, provider.issuer + "/login")
    page.fill("#cccd", cccd)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    expect(page.locator(then)).to_be_visible()


def _login_at(page, provider, portal: LivePortal, person: dict) -> None:
    page.goto(portal.url)
    page.click("#login")
    page.wait_for_load_state()
    if page.url.startswith(provider.issuer + "/login"):
        _password_step(page, provider, person["cccd"])
        page.fill("#otp", provider.last_otp())
        page.click("#verify")
        page.wait_for_load_state()
    if page.url.startswith(provider.issuer + "/consent"):
        page.click("#allow")
    _at(page, portal.url)
    assert person["full_name"] in page.locator("#greeting").inner_text()


def test_history_of_two_portals_then_log_out_everywhere(stack, chromium_browser):  # noqa: F811
    provider, national, residence, _ = stack
    page = chromium_browser.new_context(locale="vi-VN").new_page()
    _login_at(page, provider, national, CITIZEN)
    _login_at(page, provider, residence, CITIZEN)  # single sign-on: no password
    assert _logged_in(page, national) and _logged_in(page, residence)

    page.goto(provider.issuer + "/account")
    assert CITIZEN["full_name"] in page.locator("#account-name").inner_text()
    assert "001*******45" in page.locator("#cccd").inner_text()
    page.click("#nav-history")
    history = page.locator("#history").inner_text()
    assert "cong-dvc-quoc-gia" in history and "cong-cu-tru" in history
    assert "Chrome trên Linux" in history and "Thành công" in history

    page.click("#nav-sessions")
    assert "(phiên này)" in page.locator("#sessions").inner_text()
    page.click("#logout-all")
    assert "tất cả các phiên" in page.locator("#logged-out").inner_text()
    deadline = time.monotonic() + 10
    while (_logged_in(page, national) or _logged_in(page, residence)) and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _logged_in(page, national) and not _logged_in(page, residence)
    page.goto(provider.issuer + "/account")
    _at(page, provider.issuer + "/login")


def test_enrol_an_authenticator_app_and_log_in_with_it(stack, chromium_browser):  # noqa: F811
    provider, national, _, _ = stack
    page = chromium_browser.new_context(locale="vi-VN").new_page()
    page.goto(provider.issuer + "/account/security")
    _password_step(page, provider, APP_USER["cccd"])
    page.fill("#otp", provider.last_otp())
    page.click("#verify")
    _at(page, provider.issuer + "/account/security")
    page.click("#enrol-totp")
    expect(page.locator("#totp-qr")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("#confirm-totp")
    assert "Đã đăng ký" in page.locator("#totp-status").inner_text()

    fresh = chromium_browser.new_context(locale="vi-VN").new_page()
    fresh.goto(national.url)
    fresh.click("#login")
    outbox = provider.settings.path(provider.settings.sms.outbox_path)
    sent_before = outbox.read_text().count("\n")
    # With an app the code page opens on it, focused, and no SMS is sent.
    _password_step(fresh, provider, APP_USER["cccd"], then="#totp:focus")
    assert outbox.read_text().count("\n") == sent_before
    # The next time step's code: valid now, and not the one used to enrol.
    fresh.fill("#totp", pyotp.TOTP(secret).at(time.time() + 30))
    fresh.click("#verify-totp")
    _at(fresh, provider.issuer + "/consent")
    fresh.click("#allow")
    _at(fresh, national.url)
    assert APP_USER["full_name"] in fresh.locator("#greeting").inner_text()
    assert fresh.locator('tr[data-claim="amr"] td').nth(1).inner_text() == "pwd, otp, mfa"


def test_lost_phone_self_service(stack, chromium_browser):  # noqa: F811
    provider, national, _, fixtures = stack
    owner = fixtures.one("carrier: two subscriptions")
    new_phone = owner.subscriptions[1].phone
    page = chromium_browser.new_context(locale="vi-VN").new_page()
    page.goto(national.url)
    page.click("#login")
    _password_step(page, provider, owner.cccd)
    page.click("#lost-phone")
    page.fill("#phone", "0" + new_phone[3:])
    page.click("#check-phone")
    expect(page.locator("#countdown")).to_be_visible()
    page.fill("#otp", provider.last_otp(new_phone))
    page.click("#verify")
    _at(page, provider.issuer + "/consent")
    page.click("#allow")
    assert owner.full_name in page.locator("#greeting").inner_text()
    assert provider.phones(owner.cccd) == [new_phone]

    # A phone the carrier says belongs to someone else: refused, nothing changes.
    other = fixtures.one("carrier: full match")
    page = chromium_browser.new_context(locale="vi-VN").new_page()
    page.goto(national.url)
    page.click("#login")
    _password_step(page, provider, other.cccd)
    page.click("#lost-phone")
    page.fill("#phone", new_phone)
    page.click("#check-phone")
    error = page.locator("#error").inner_text()
    advice = page.locator("#refused-help").inner_text()
    # What happened, then what to do: each said once.
    assert "chưa được thay đổi" in error and "bộ phận một cửa" not in error
    assert "cập nhật thông tin thuê bao" in advice and "bộ phận một cửa" in advice
    assert provider.phones(other.cccd) == [other.phone]


def _offline_token(page, provider, client) -> str:
    """In this browser's SSO session, a portal that keeps a refresh token (offline_access)
    gets one: authorize, consent, code exchange (the redirect is caught in the browser)."""
    callback = client.base_url + "/callback"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    page.route(callback + "*", lambda route: route.fulfill(status=200, body="ok"))
    page.goto(provider.issuer + "/authorize?" + requests.compat.urlencode({
        "response_type": "code", "client_id": client.client_id, "redirect_uri": callback,
        "scope": "openid profile offline_access", "state": "s", "nonce": "n",
        "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256"}))
    if page.url.startswith(provider.issuer + "/consent"):
        page.click("#allow")
    _at(page, callback)
    code = re.search(r"[?&]code=([^&]+)", page.url).group(1)
    answer = requests.post(provider.url + "/token", auth=(client.client_id, client.secret),
                           data={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": callback, "code_verifier": verifier},
                           timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["refresh_token"]


def test_not_me_logs_the_strangers_portal_out_and_kills_its_refresh_token(
        stack, chromium_browser):  # noqa: F811
    provider, national, _, _ = stack
    bank = provider.add_portal("ngan-hang-thu", f"http://127.0.0.1:{free_port()}",
                               name="Ngân hàng thử")
    stranger = chromium_browser.new_context(locale="vi-VN", user_agent=STRANGER_AGENT).new_page()
    _login_at(stranger, provider, national, ROBBED)
    stolen = _offline_token(stranger, provider, bank)
    assert _logged_in(stranger, national)

    owner = chromium_browser.new_context(locale="vi-VN").new_page()
    owner.goto(provider.issuer + "/account/history")
    _password_step(owner, provider, ROBBED["cccd"])
    owner.fill("#otp", provider.last_otp())
    owner.click("#verify")
    _at(owner, provider.issuer + "/account/history")
    unknown = owner.locator("#history tbody tr", has_text="Firefox trên Windows").filter(
        has_text="cong-dvc-quoc-gia")
    expect(unknown).to_have_count(1)
    unknown.get_by_role("button", name=re.compile("^Không phải tôi")).click()
    expect(owner.locator("#complaint-number")).to_be_visible()
    expect(owner.locator("#sessions-ended")).to_contain_text("đã bị đăng xuất")

    deadline = time.monotonic() + 10
    while _logged_in(stranger, national) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _logged_in(stranger, national)  # the portal got the back-channel logout
    refused = requests.post(provider.url + "/token", auth=(bank.client_id, bank.secret),
                            data={"grant_type": "refresh_token", "refresh_token": stolen},
                            timeout=10)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    # The owner's console goes on, and asks for a new password.
    owner.goto(provider.issuer + "/account")
    expect(owner.locator("#change-password-asked")).to_be_visible()
