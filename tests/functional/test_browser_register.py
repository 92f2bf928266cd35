"""End to end in Debian's Chromium: register by each method, then log in at a portal.

Everything is real: the provider under gunicorn, the three registry simulators on
free loopback ports, the example portal (Authlib's client) as its own process, the
browser through Playwright. The captcha answer is read from the provider's state
table and the OTPs from its SMS outbox, as a citizen would read the image and the SMS.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from connectors.email import read_outbox
from connectors.simulators import DEFAULT_API_KEYS, SIMULATORS
from connectors.simulators.fixtures import load_fixtures
from connectors.simulators.serving import start
from idp.config import load_settings
from idp.store.models import Account
from tests.browser import chromium_browser  # noqa: F401 - pytest fixture
from tests.live import LivePortal, LiveProvider, free_port

pytestmark = pytest.mark.browser

FIXTURES = load_fixtures()
PASSWORD = "Sen-Hong#Dong-Thap-5281"
LOA2 = "urn:vn:sso:loa:2"


class RegistryProvider(LiveProvider):
    """A live provider whose carrier, BHXH and Post sections point at running simulators,
    with its e-mail outbox next to its SMS outbox."""

    def __init__(self, directory: Path, registries: dict[str, str]) -> None:
        super().__init__(directory, workers=1, threads=4)
        sections = "".join(f'[{name}]\nurl = "{url}"\n' for name, url in registries.items())
        with self.config.open("a", encoding="utf-8") as config:
            config.write(sections + '[email]\noutbox_path = "mail.jsonl"\n')
        self.settings = load_settings(self.config)

    def activation_link(self, address: str) -> str:
        mails = read_outbox(self.settings.path(self.settings.email.outbox_path))
        body = [m for m in mails if m["to"] == address][-1]["body"]
        return re.search(r"(https?://\S+/register/activate\?\S+)", body).group(1)

    def account(self, cccd: str) -> dict | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(Account.ial, Account.verified_by,
                                            Account.email_verified)
                                     .where(Account.cccd_is(cccd))).first()
        return None if row is None else dict(row._mapping)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("e2e-register")
    simulators = {name: start(factory(FIXTURES, DEFAULT_API_KEYS[name], 0.0))
                  for name, factory in SIMULATORS.items()}
    provider = RegistryProvider(directory, {n: s.url for n, s in simulators.items()}).start()
    portal = LivePortal(provider, "cong-dvc-quoc-gia", "national", free_port(), directory)
    yield provider, portal
    portal.stop()
    provider.stop()
    for simulator in simulators.values():
        simulator.stop()


def path_of(page) -> str:
    return urlsplit(page.url).path


def fill_form(page, provider: RegistryProvider, person, method: str, activation: str) -> None:
    """The method's form as the citizen types it, captcha included."""
    page.fill("#cccd", person.cccd)
    page.fill("#full_name", person.full_name)
    page.fill("#birthdate", person.birthdate.isoformat())  # a date input
    if method == "bhxh":
        page.fill("#bhxh_code", person.bhxh_code)
    else:
        page.select_option("#gender", person.gender)
    page.fill("#phone", person.phone)
    page.fill("#email", person.email or "")
    if method == "post":
        page.check(f"#activation-{activation}")
    captcha_id = page.locator('input[name="captcha_id"]').input_value()
    assert page.locator('img[alt^="Mã kiểm tra"]').evaluate("img => img.naturalWidth") > 0
    page.fill("#captcha", provider.captcha_answer(captcha_id))
    page.click("#submit")


def enter_otp(page, provider: RegistryProvider, phone: str) -> None:
    assert path_of(page) == "/register/otp", page.content()
    page.fill("#otp", provider.last_otp(phone))
    page.click("#verify")


CASES = [
    ("mobile", "carrier: full match", "sms"),
    ("bhxh", "bhxh: full match", "sms"),
    ("post", "post: verified", "sms"),
    ("post", "post: verified, e-mail only", "email"),
]


@pytest.mark.parametrize(("method", "scenario", "activation"), CASES,
                         ids=["mobile", "bhxh", "post-sms", "post-email"])
def test_register_then_log_in_at_the_portal(stack, chromium_browser, method,  # noqa: F811
                                            scenario, activation):
    provider, portal = stack
    # Someone only this case registers (the module shares one provider).
    person = next(p for p in FIXTURES.with_scenario(scenario)
                  if "all: full match" not in p.scenarios)
    context = chromium_browser.new_context(locale="vi-VN")
    page = context.new_page()
    try:
        # Công dân → the method → its form.
        page.goto(provider.issuer + "/register")
        page.click("#type-citizen")
        page.click(f"#method-{method}")
        assert path_of(page) == f"/register/{method}"
        fill_form(page, provider, person, method, activation)

        otp_phone = person.phone
        if activation == "email":
            expect(page.locator("#email-sent")).to_be_visible()
            page.goto(provider.activation_link(person.post.email))
            assert path_of(page) == "/register/phone"
            page.fill("#phone", person.phone)
            page.click("#submit")
        elif method == "post":
            otp_phone = person.post.phone
        enter_otp(page, provider, otp_phone)

        assert path_of(page) == "/register/password", page.content()
        page.fill("#password", PASSWORD)
        page.fill("#confirm", PASSWORD)
        # The live check (password.js) agrees with the server; its request waits behind the
        # other test processes' work on a busy CI machine, hence the generous bound.
        page.locator("#problems li.ok").wait_for(timeout=20000)
        page.click("#submit")
        assert person.full_name in page.locator("#registered").inner_text()
        account = provider.account(person.cccd)
        assert account is not None and account["ial"] == 2
        assert account["verified_by"] == {"mobile": "carrier"}.get(method, method)
        assert account["email_verified"] is (activation == "email")

        # The new account logs in at the portal: password, SMS OTP, consent.
        page.goto(portal.url)
        page.click("#login")
        assert page.url.startswith(provider.issuer + "/login")
        page.fill("#cccd", person.cccd)
        page.fill("#password", PASSWORD)
        page.click("#submit")
        expect(page.locator("#otp")).to_have_count(1)
        page.fill("#otp", provider.last_otp(otp_phone))
        page.click("#verify")
        assert page.url.startswith(provider.issuer + "/consent"), page.content()
        page.click("#allow")
        assert page.url.startswith(portal.url)
        assert person.full_name in page.locator("#greeting").inner_text()
        assert page.locator("#so_dinh_danh").input_value() == person.cccd
        assert LOA2 in page.locator("#claims").inner_text()
    finally:
        context.close()


def test_mismatch_is_refused_in_the_browser(stack, chromium_browser):  # noqa: F811
    """A refusal shows what to do, keeps the form filled and creates nothing."""
    provider, _ = stack
    person = FIXTURES.one("carrier: birthdate differs")
    context = chromium_browser.new_context(locale="vi-VN")
    page = context.new_page()
    try:
        page.goto(provider.issuer + "/register/mobile")
        fill_form(page, provider, person, "mobile", "sms")
        assert path_of(page) == "/register/mobile"
        message = page.locator("#error").inner_text()
        assert "không khớp" in message and "Vui lòng" in message
        assert page.locator("#cccd").input_value() == person.cccd
        assert provider.account(person.cccd) is None
    finally:
        context.close()


def test_password_typed_before_the_check_script_arrives_is_checked(
        stack, chromium_browser):  # noqa: F811
    """On a slow connection the citizen types both fields before password.js arrives;
    the live check still runs once the script is there."""
    provider, _ = stack
    person = [p for p in FIXTURES.with_scenario("carrier: full match")
              if "all: full match" not in p.scenarios][1]
    context = chromium_browser.new_context(locale="vi-VN")
    page = context.new_page()
    held = []
    page.route("**/static/password.js", lambda route: held.append(route))
    try:
        page.goto(provider.issuer + "/register/mobile")
        fill_form(page, provider, person, "mobile", "sms")
        enter_otp(page, provider, person.phone)
        assert path_of(page) == "/register/password", page.content()
        page.fill("#password", PASSWORD)
        page.fill("#confirm", PASSWORD)
        for _ in range(200):  # the parser asks for the script right after the form
            if held:
                break
            page.wait_for_timeout(50)
        assert len(held) == 1 and page.locator("#problems li").count() == 0
        held[0].continue_()
        expect(page.locator("#problems li.ok")).to_be_visible(timeout=20000)
    finally:
        context.close()
