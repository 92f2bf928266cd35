"""End to end in Debian's Chromium: nobody can lock a citizen out, and no page is a dead end.

The provider runs under gunicorn with the registry simulators and an SMS gateway of its
own on loopback (a real HTTP server that can be told to fail); the example portal is the
relying party. Strangers act over real HTTP from other addresses (the provider trusts one
proxy hop, so X-Forwarded-For gives each its own); the owner acts in Chromium. Every page
a person reads is photographed at 1280 px and at 375 px (into $IDP_SCREENSHOTS when set),
and at 375 px none may scroll sideways. Over 400 lines: the scenarios share one running
provider, gateway and portal, which are slow to start.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import requests
from flask import Flask, request
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.simulators.fixtures import load_fixtures
from connectors.simulators.serving import start
from idp.config import load_settings
from idp.store.models import Account
from tests.browser import chromium_browser  # noqa: F401 - pytest fixture
from tests.conftest import make_person
from tests.live import LivePortal, LiveProvider, free_port

pytestmark = pytest.mark.browser

PASSWORD = "Sen-Hong#Dong-Thap-5281"
NEW_PASSWORD = "Cay-Tre#Lang-Que-8362"
WRONG = "Sai-Mat-Khau#2024-xyz"
FIXTURES = load_fixtures()


class SmsGateway:
    """An SMS gateway on loopback: keeps every text it takes, or refuses them all."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.refusing = False
        self._lock = threading.Lock()
        gateway = Flask("sms-gateway")

        @gateway.post("/send")
        def send():
            if self.refusing:
                return {"error": "gateway_down"}, 503
            with self._lock:
                self.messages.append(request.get_json())
            return {"status": "queued"}

        self.server = start(gateway)
        self.url = self.server.url + "/send"

    def code_for(self, phone: str, wait: float = 5.0) -> str:
        """The last code sent to `phone`; waits for one, as forgot-password codes leave
        through the SMS queue just after the page."""
        deadline = time.monotonic() + wait
        while True:
            for message in reversed(self.messages):
                if message["to"] == phone and (found := re.search(r"\b(\d{6})\b",
                                                                  message["text"])):
                    return found.group(1)
            if time.monotonic() > deadline:
                raise AssertionError(f"no code sent to {phone}")
            time.sleep(0.05)

    def count_to(self, phone: str) -> int:
        return sum(1 for message in self.messages if message["to"] == phone)


class OwnerFirstProvider(LiveProvider):
    """Registries and the SMS gateway on loopback; one trusted proxy hop (X-Forwarded-For)."""

    def __init__(self, directory: Path, registries: dict[str, str], gateway: SmsGateway) -> None:
        super().__init__(directory, workers=1, threads=4)
        sections = "".join(f'[{name}]\nurl = "{url}"\n' for name, url in registries.items())
        text = self.config.read_text(encoding="utf-8").replace(
            "[server]\n", "[server]\ntrust_proxy_headers = 1\n").replace(
            '[sms]\noutbox_path = "sms.jsonl"\n',
            f'[sms]\nconnector = "sms.http"\ngateway_url = "{gateway.url}"\n'
            'gateway_api_key = "test"\nread_timeout = 1.0\n')
        # No growing wait: the strangers here do not wait, so only the pause stops them.
        # Cookies without Secure: the strangers' HTTP client sends none over plain http.
        login = "[login]\ndelay_after_failures = 100\n[session]\ncookie_secure = false\n"
        self.config.write_text(text + sections + login, encoding="utf-8")
        self.settings = load_settings(self.config)

    def enrol_app(self, cccd: str) -> pyotp.TOTP:
        """An authenticator app for the account, sealed as the console would seal it."""
        from idp import create_app
        from idp.security.sealed import seal
        from idp.security.totp import ACCOUNT_PURPOSE as PURPOSE

        secret = pyotp.random_base32()
        with create_app(self.settings).app_context():
            sealed = seal(secret, PURPOSE)
        with Session(self.engine) as session:
            session.scalars(select(Account).where(Account.cccd_is(cccd))).one().totp_secret = sealed
            session.commit()
        return pyotp.TOTP(secret)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, simulators):
    directory = tmp_path_factory.mktemp("e2e-owner-first")
    gateway = SmsGateway()
    provider = OwnerFirstProvider(directory, {n: s.url for n, s in simulators.items()},
                                  gateway).start()
    portal = LivePortal(provider, "cong-dvc-quoc-gia", "national", free_port(), directory)
    yield provider, portal, gateway
    portal.stop()
    provider.stop()
    gateway.server.stop()


@pytest.fixture
def shots(request, tmp_path):
    """`shots(page, name)`: photograph the page at 1280 px and 375 px; no sideways scroll."""
    target = Path(os.environ.get("IDP_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)

    def shoot(page, name: str) -> None:
        for width in (1280, 375):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(target / f"{name}-{width}.png"), full_page=True)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px"
        page.set_viewport_size({"width": 1280, "height": 900})

    return shoot


def at(page, url: str) -> None:
    expect(page).to_have_url(re.compile("^" + re.escape(url)))


def person_dict(person) -> dict:
    return {k: getattr(person, k) for k in ("cccd", "full_name", "birthdate", "gender", "phone",
                                            "email")}


def new_owner(provider, n: int):
    person = make_person(n, password=PASSWORD)
    provider.add_account(person_dict(person), PASSWORD)
    return person


def log_in(page, provider, portal, gateway, person, *, password: str = PASSWORD) -> None:
    """From the portal: password, the SMS code, consent when asked, back at the portal."""
    page.goto(portal.url)
    page.click("#login")
    at(page, provider.issuer + "/login")
    page.fill("#cccd", person.cccd)
    page.fill("#password", password)
    page.click("#submit")
    expect(page.locator("#otp")).to_be_focused()
    page.fill("#otp", gateway.code_for(person.phone))
    page.click("#verify")
    page.wait_for_load_state()
    if "/consent" in page.url:
        page.click("#allow")
    at(page, portal.url)
    expect(page.locator("#greeting")).to_be_visible()


def stranger_try(provider, portal, cccd: str, password: str, address: str) -> requests.Response:
    """One login try over HTTP from `address`, solving a captcha when one is asked for."""
    http = requests.Session()
    http.headers["X-Forwarded-For"] = address
    page = http.get(portal.url + "/login")
    tx = parse_qs(urlsplit(page.url).query)["tx"][0]
    data = {"csrf_token": _csrf(page.text), "tx": tx, "cccd": cccd, "password": password}
    for _ in range(2):
        if captcha_id := _captcha_id(page.text):
            data.update(captcha_id=captcha_id, captcha=provider.captcha_answer(captcha_id))
        page = http.post(provider.url + "/login", data=data, allow_redirects=False)
        if page.status_code != 400 or not _captcha_id(page.text):
            break
        data["csrf_token"] = _csrf(page.text)
    return page


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _captcha_id(html: str) -> str | None:
    found = re.search(r'name="captcha_id" value="([^"]+)"', html)
    return found.group(1) if found else None


# --- the scenarios -----------------------------------------------------------------------


def test_a_strangers_failures_never_stop_the_owner_in_a_browser_used_before(
        stack, chromium_browser, shots):  # noqa: F811
    provider, portal, gateway = stack
    owner = new_owner(provider, 301)
    browser = chromium_browser.new_context(locale="vi-VN")
    page = browser.new_page()
    log_in(page, provider, portal, gateway, owner)
    page.click("#logout")  # single logout: the device cookie stays, the session goes
    at(page, portal.url)

    answers = [stranger_try(provider, portal, owner.cccd, WRONG, f"203.0.113.{n % 5 + 1}")
               .status_code for n in range(30)]
    assert 429 in answers  # the stranger got paused

    # The owner, at once, in the browser used before: no captcha, no wait.
    log_in(page, provider, portal, gateway, owner)

    # Anyone else's browser is told the truth, with the ways on.
    fresh = chromium_browser.new_context(locale="vi-VN").new_page()
    fresh.goto(portal.url)
    fresh.click("#login")
    fresh.fill("#cccd", owner.cccd)  # said as soon as the CCCD is whole, before any submit
    expect(fresh.locator("#paused-notice")).to_contain_text("tạm dừng đến")
    fresh.fill("#password", PASSWORD)
    fresh.click("#submit")
    expect(fresh.locator("#error")).to_contain_text("tạm dừng đến")
    expect(fresh.locator("#paused-forgot")).to_be_visible()
    shots(fresh, "paused")


def test_resets_and_registrations_by_strangers_leave_the_owners_login_code(
        stack, chromium_browser):  # noqa: F811
    provider, portal, gateway = stack
    fixture = FIXTURES.one("all: full match")
    owner = make_person(cccd=fixture.cccd, full_name=fixture.full_name,
                        birthdate=fixture.birthdate.isoformat(), gender=fixture.gender,
                        phone=fixture.phone, password=PASSWORD)
    provider.add_account(person_dict(owner), PASSWORD)
    for n in range(10):
        http = requests.Session()
        http.headers["X-Forwarded-For"] = f"198.51.100.{n + 1}"
        for path, fields in (("/register/mobile", fixture.form()), ("/forgot",
                                                                    {"cccd": owner.cccd})):
            html = http.get(provider.url + path).text
            captcha_id = _captcha_id(html)
            http.post(provider.url + path, data={
                "csrf_token": _csrf(html), "captcha_id": captcha_id,
                "captcha": provider.captcha_answer(captcha_id), **fields})
    assert gateway.count_to(owner.phone) <= 6  # a few per hour, whoever asks
    page = chromium_browser.new_context(locale="vi-VN").new_page()
    log_in(page, provider, portal, gateway, owner)


def test_a_failing_sms_gateway_still_leads_to_the_code_page_and_the_app(
        stack, chromium_browser, shots):  # noqa: F811
    provider, portal, gateway = stack
    with_app, without_app = new_owner(provider, 302), new_owner(provider, 303)
    totp = provider.enrol_app(with_app.cccd)
    gateway.refusing = True
    try:
        page = chromium_browser.new_context(locale="vi-VN").new_page()
        page.goto(portal.url)
        page.click("#login")
        page.fill("#cccd", without_app.cccd)
        page.fill("#password", PASSWORD)
        page.click("#submit")
        expect(page.locator("#notice")).to_contain_text("không gửi được mã OTP")
        expect(page.locator("#lost-phone")).to_be_visible()
        shots(page, "sms-failed")

        page = chromium_browser.new_context(locale="vi-VN").new_page()
        page.goto(portal.url)
        page.click("#login")
        page.fill("#cccd", with_app.cccd)
        page.fill("#password", PASSWORD)
        page.click("#submit")
        expect(page.locator("#totp")).to_be_focused()  # the app first, no SMS tried
        shots(page, "app-first")
        page.fill("#totp", totp.now())
        page.click("#verify-totp")
        page.wait_for_load_state()
        if "/consent" in page.url:
            page.click("#allow")
        at(page, portal.url)
        expect(page.locator("#greeting")).to_be_visible()
    finally:
        gateway.refusing = False


def test_the_captcha_is_on_the_page_before_the_first_submit(
        stack, chromium_browser, shots):  # noqa: F811
    provider, portal, _ = stack
    owner = new_owner(provider, 304)
    for n in range(3):
        stranger_try(provider, portal, owner.cccd, WRONG, f"192.0.2.{n + 1}")
    page = chromium_browser.new_context(locale="vi-VN").new_page()
    page.goto(portal.url)
    page.click("#login")
    expect(page.locator("#captcha-block")).to_be_hidden()
    page.fill("#cccd", owner.cccd)  # the page asks as soon as the CCCD is whole
    expect(page.locator("#captcha-block")).to_be_visible()
    expect(page.locator("#captcha-status")).to_contain_text("mã kiểm tra")
    image = page.locator("#captcha-image")
    first = image.get_attribute("src")
    assert page.locator("#captcha-audio").get_attribute("src").endswith(".wav")
    page.click("#captcha-refresh")
    expect(image).not_to_have_attribute("src", first)
    expect(page.locator("#captcha")).to_be_focused()
    shots(page, "captcha-before-submit")
    captcha_id = page.locator("#captcha-id").input_value()
    page.fill("#password", PASSWORD)
    page.fill("#captcha", provider.captcha_answer(captcha_id))
    page.click("#submit")
    expect(page.locator("#otp")).to_be_visible()


def test_a_foreign_id_token_hint_asks_before_logging_anyone_out(
        stack, chromium_browser, shots):  # noqa: F811
    provider, portal, gateway = stack
    mine, theirs = new_owner(provider, 305), new_owner(provider, 306)
    page = chromium_browser.new_context(locale="vi-VN").new_page()
    log_in(page, provider, portal, gateway, mine)
    other = chromium_browser.new_context(locale="vi-VN").new_page()
    log_in(other, provider, portal, gateway, theirs)
    assert other.request.get(portal.url + "/api/session").json()["logged_in"]
    hint = _id_token_of(provider, portal, theirs, gateway)  # the other citizen's ID token

    page.goto(f"{provider.issuer}/logout?id_token_hint={hint}"
              f"&post_logout_redirect_uri={portal.url}/")
    expect(page.locator("#confirm")).to_be_visible()
    shots(page, "logout-confirm")
    assert page.request.get(portal.url + "/api/session").json()["logged_in"]  # nothing ended
    page.click("#confirm")
    at(page, portal.url)
    assert not page.request.get(portal.url + "/api/session").json()["logged_in"]
    assert other.request.get(portal.url + "/api/session").json()["logged_in"]


def _id_token_of(provider, portal, person, gateway) -> str:
    """An ID token of `person` obtained over HTTP by the portal's own client."""
    import base64
    import hashlib
    import secrets

    http = requests.Session()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    redirect_uri = portal.url + "/callback"
    login = http.get(provider.url + "/authorize", params={
        "response_type": "code", "client_id": portal.registered.client_id,
        "redirect_uri": redirect_uri, "scope": "openid", "state": "s", "nonce": "n",
        "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256"})
    tx = parse_qs(urlsplit(login.url).query)["tx"][0]
    step = http.post(provider.url + "/login", data={
        "csrf_token": _csrf(login.text), "tx": tx, "cccd": person.cccd, "password": PASSWORD})
    step = http.post(provider.url + "/login/otp", data={
        "csrf_token": _csrf(step.text), "tx": tx, "otp": gateway.code_for(person.phone)},
        allow_redirects=False)
    while "code=" not in step.headers.get("Location", ""):
        step = http.get(provider.url + urlsplit(step.headers["Location"]).path + "?" +
                        urlsplit(step.headers["Location"]).query, allow_redirects=False)
    code = parse_qs(urlsplit(step.headers["Location"]).query)["code"][0]
    tokens = requests.post(provider.url + "/token", auth=(
        portal.registered.client_id, portal.registered.secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "code_verifier": verifier}).json()
    return tokens["id_token"]


def test_registration_and_reset_end_back_at_the_portal(
        stack, chromium_browser, shots):  # noqa: F811
    provider, portal, gateway = stack
    # Not the person of the strangers' test above (their registrations are spent).
    fixture = FIXTURES.with_scenario("carrier: full match")[1]
    page = chromium_browser.new_context(locale="vi-VN").new_page()
    page.goto(portal.url)
    page.click("#login")
    page.click("#register")
    page.click("#type-citizen")
    page.click("#method-mobile")
    page.fill("#cccd", fixture.cccd)
    page.fill("#full_name", fixture.full_name)
    page.fill("#birthdate", fixture.birthdate.isoformat())
    page.select_option("#gender", fixture.gender)
    page.fill("#phone", fixture.phone)
    page.fill("#captcha", provider.captcha_answer(page.locator("#captcha-id").input_value()))
    page.click("#submit")
    code_then_password(page, gateway.code_for(fixture.phone), PASSWORD)
    expect(page.locator("#registered")).to_be_visible()
    shots(page, "registered")
    back_into_the_login(page, provider, portal, fixture.cccd, PASSWORD,
                        lambda: gateway.code_for(fixture.phone))
    expect(page.locator("#greeting")).to_contain_text(fixture.full_name)

    owner = new_owner(provider, 307)
    page = chromium_browser.new_context(locale="vi-VN").new_page()
    page.goto(portal.url)
    page.click("#login")
    page.click("#forgot")
    page.fill("#cccd", owner.cccd)
    page.fill("#captcha", provider.captcha_answer(page.locator("#captcha-id").input_value()))
    page.click("#submit")
    code_then_password(page, gateway.code_for(owner.phone), NEW_PASSWORD)
    expect(page.locator("#reset-done")).to_be_visible()
    shots(page, "reset-done")
    back_into_the_login(page, provider, portal, owner.cccd, NEW_PASSWORD,
                        lambda: gateway.code_for(owner.phone))
    expect(page.locator("#greeting")).to_be_visible()


def code_then_password(page, code: str, password: str) -> None:
    """The SMS code of a registration or reset, then the new password twice."""
    page.fill("#otp", code)
    page.click("#verify")
    page.fill("#password", password)
    page.fill("#confirm", password)
    page.click("#submit")


def back_into_the_login(page, provider, portal, cccd: str, password: str, code) -> None:
    """"Đăng nhập" on the last page: the same login, the CCCD filled in, on to the portal."""
    page.click("#next a.primary")
    at(page, provider.issuer + "/login")
    expect(page.locator("#cccd")).to_have_value(cccd)
    page.fill("#password", password)
    page.click("#submit")
    page.fill("#otp", code())
    page.click("#verify")
    page.click("#allow")
    at(page, portal.url)
