"""End to end in Debian's Chromium: a staff member logs in (password + TOTP), finds a
citizen by CCCD, resets the lost OTP phone with evidence while the citizen reads out the
OTP from the new phone; the phone changes and the old phone gets the notice.

Everything is real: the provider under gunicorn, the carrier simulator over HTTP, the
SMS outbox file, the browser through Playwright.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect

from idp import create_app
from idp.config import load_settings
from idp.helpdesk.staff import create_staff
from tests.browser import chromium_browser  # noqa: F401 - pytest fixture
from tests.helpdesk.conftest import FIXTURES, OLD_PHONE, STAFF_PASSWORD
from tests.live import LiveProvider
from vnid.person import mask_phone

pytestmark = pytest.mark.browser

PERSON = FIXTURES.one("carrier: full match")
CITIZEN_PASSWORD = "Hoa-Sen#Ha-Noi-1985"


class RegistryLiveProvider(LiveProvider):
    """LiveProvider whose config also points at the registry simulators."""

    def __init__(self, directory: Path, simulators: dict, **options) -> None:
        super().__init__(directory, **options)
        with self.config.open("a", encoding="utf-8") as config:
            for name, simulator in simulators.items():
                config.write(f'[{name}]\nurl = "{simulator.url}"\n')
        self.settings = load_settings(self.config)

    def add_staff(self, username: str, *roles: str) -> str:
        """Create a staff member; returns the TOTP secret."""
        app = create_app(self.settings)
        with app.app_context():
            session = app.extensions["idp.provider"].db.session
            member, enrolment = create_staff(session, username, "Lê Thị Một Cửa", roles,
                                             STAFF_PASSWORD)
            member.must_replace_credentials = False  # as after the member's first login
            session.commit()
        app.extensions["idp.provider"].db.engine.dispose()
        return enrolment.secret

    def sms(self) -> list[dict]:
        path = self.settings.path(self.settings.sms.outbox_path)
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def stack(tmp_path_factory, simulators):
    provider = RegistryLiveProvider(tmp_path_factory.mktemp("helpdesk-e2e"), simulators,
                                    workers=2, threads=4)
    secret = provider.add_staff("mot.cua", "registrar")
    provider.add_account({"cccd": PERSON.cccd, "full_name": PERSON.full_name,
                          "birthdate": PERSON.birthdate.isoformat(), "gender": PERSON.gender,
                          "phone": OLD_PHONE, "email": ""}, CITIZEN_PASSWORD)
    try:
        provider.start()
        yield provider, secret
    finally:
        provider.stop()


def test_staff_resets_a_lost_phone(stack, chromium_browser):  # noqa: F811
    provider, secret = stack
    page = chromium_browser.new_context(locale="vi-VN").new_page()

    page.goto(provider.issuer + "/helpdesk/")
    assert page.url.endswith("/helpdesk/login")
    page.fill("#username", "mot.cua")
    page.fill("#password", STAFF_PASSWORD)
    page.click("#submit")
    assert page.url.endswith("/helpdesk/login/totp")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("#verify")
    assert "mot.cua" in page.locator("#who").inner_text()

    page.fill("#cccd", PERSON.cccd)
    page.click("#search")
    assert re.search(r"/helpdesk/accounts/\d+$", page.url)
    assert mask_phone(OLD_PHONE) in page.locator("#phones").inner_text()
    assert PERSON.cccd not in page.content()

    page.click("#reset-phone")
    page.fill("#reason", "Công dân bị mất điện thoại")
    page.select_option("#evidence_type", "cccd")
    page.fill("#evidence_number", PERSON.cccd)
    page.fill("#new_phone", PERSON.phone)
    page.click("#start-reset")
    expect(page.locator("#countdown")).to_be_visible()
    [code_sms] = [m for m in provider.sms() if m["to"] == PERSON.phone]
    page.fill("#otp", re.search(r"\b(\d{6})\b", code_sms["text"]).group(1))
    page.click("#verify")
    assert page.locator("#reset-status").get_attribute("data-status") == "done"
    assert "Đã đổi số điện thoại" in page.locator("#message").inner_text()

    [notice] = [m for m in provider.sms() if m["to"] == OLD_PHONE]
    assert "đã được đổi sang số" in notice["text"]
    page.click("#request a")
    assert page.locator("#phones").inner_text().strip() == f"{mask_phone(PERSON.phone)} (mặc định)"

