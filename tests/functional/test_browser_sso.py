"""End to end in Debian's Chromium: log in at one portal, SSO into the second, log out of both.

Everything is real: the provider under gunicorn, the two example portals
(Authlib's client) as their own processes, the browser through Playwright.
"""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest
from playwright.sync_api import expect

from tests.browser import chromium_browser  # noqa: F401 - pytest fixture
from tests.live import LivePortal, LiveProvider, free_port

pytestmark = pytest.mark.browser

PERSON = {"cccd": "001085012345", "full_name": "Nguyễn Văn An", "birthdate": "1985-03-15",
          "gender": "male", "phone": "0912345678", "email": "an@example.vn"}
PASSWORD = "Hoa-Sen#Ha-Noi-1985"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("e2e")
    with ExitStack() as started:  # what did start stops, also when a later part fails
        provider = LiveProvider(directory, workers=2, threads=4)
        started.callback(provider.stop)
        provider.start().add_account(PERSON, PASSWORD)
        national = LivePortal(provider, "cong-dvc-quoc-gia", "national", free_port(), directory)
        started.callback(national.stop)
        residence = LivePortal(provider, "cong-cu-tru", "residence", free_port(), directory)
        started.callback(residence.stop)
        yield provider, national, residence


def _logged_in(page, portal: LivePortal) -> bool:
    return page.request.get(portal.url + "/api/session").json()["logged_in"]


def test_login_sso_and_single_logout(stack, chromium_browser):  # noqa: F811
    provider, national, residence = stack
    page = chromium_browser.new_context(locale="vi-VN").new_page()

    # Portal 1: password, then the OTP sent by SMS, then consent.
    page.goto(national.url)
    page.click("#login")
    assert page.url.startswith(provider.issuer + "/login")
    page.fill("#cccd", PERSON["cccd"])
    page.fill("#password", PASSWORD)
    page.click("#submit")
    expect(page.locator("#countdown")).to_be_visible()
    page.fill("#otp", provider.last_otp())
    page.click("#verify")
    assert page.url.startswith(provider.issuer + "/consent")
    consent = page.locator("#claims").inner_text()
    assert "Họ và tên" in consent and PERSON["full_name"] in consent
    assert PERSON["cccd"] in consent
    page.click("#allow")
    assert page.url.startswith(national.url)
    assert PERSON["full_name"] in page.locator("#greeting").inner_text()
    assert page.locator("#so_dinh_danh").input_value() == PERSON["cccd"]
    assert "urn:vn:sso:loa:2" in page.locator("#claims").inner_text()

    # Portal 2: the SSO session answers; only this portal's consent is asked.
    page.goto(residence.url)
    page.click("#login")
    assert page.url.startswith(provider.issuer + "/consent")
    page.click("#allow")
    assert page.url.startswith(residence.url)
    assert PERSON["full_name"] in page.locator("#greeting").inner_text()
    assert _logged_in(page, national) and _logged_in(page, residence)

    # Log out at portal 2: back-channel logout reaches portal 1 as well.
    page.click("#logout")
    assert page.url.startswith(residence.url)
    assert not _logged_in(page, residence)
    deadline = time.monotonic() + 10
    while _logged_in(page, national) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _logged_in(page, national)

    # The provider's session is gone too: logging in again asks for the password.
    page.goto(national.url)
    page.click("#login")
    assert page.url.startswith(provider.issuer + "/login")
