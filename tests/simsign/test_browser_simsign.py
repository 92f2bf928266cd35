"""End to end over real HTTP: a citizen registers with a SIM signature in Chromium and logs
in at level 3 at a portal demanding it; and a user waiting for the phone holds no worker of
a provider with one worker and one thread.

The provider runs under gunicorn as its own process, the MSSP simulator in this process;
the test approves on the "phone" through the simulator's control API.
"""

from __future__ import annotations

import json
import re
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.browser import chromium_browser  # noqa: F401 - pytest fixture
from tests.conftest import query
from tests.live import LiveProvider
from tests.simsign.conftest import API_KEY, CITIZEN_PHONE, EC_CITIZEN_PHONE, Mssp
from tests.usbtoken.conftest import CITIZEN_BIRTHDATE, CITIZEN_CCCD, LEVEL_3, UsbPki
from tests.usbtoken.test_browser_usbtoken import Portal

pytestmark = pytest.mark.browser


class SimProvider(LiveProvider):
    """The live provider trusting the test PKI and asking the simulator; one worker with
    one thread, so a request held on the MSSP would hold up everybody."""

    def __init__(self, directory: Path, pki: UsbPki, mssp_url: str) -> None:
        self.pki, self.mssp_url = pki, mssp_url
        super().__init__(directory, workers=1, threads=1)

    def _config_text(self) -> str:
        usb = self.pki.usb_token_settings()
        return (super()._config_text() + "[usb_token]\n"
                + "".join(f"{key} = {json.dumps(value)}\n" for key, value in usb.items())
                + f'[mssp]\nurl = "{self.mssp_url}"\napi_key = "{API_KEY}"\npoll_ms = 1000\n')


@pytest.fixture(scope="module")
def stack(tmp_path_factory, usb_pki, mssp):
    directory = tmp_path_factory.mktemp("sim-e2e")
    with ExitStack() as started:  # what did start stops, also when a later part fails
        provider = SimProvider(directory, usb_pki, mssp.url)
        started.callback(provider.stop)
        provider.start()
        portal = Portal(provider, "cong-dvc-sim", directory, f"--acr-values={LEVEL_3}")
        started.callback(portal.stop)
        yield provider, portal


def _approve_when_asked(page, mssp: Mssp, phone: str) -> None:
    """On the waiting page: the phone shows the page's code; the user approves."""
    code = page.locator("#sim-code").inner_text().strip()
    assert mssp.control(phone)["code"] == code
    mssp.control(phone, "approve")


def test_citizen_registers_and_logs_in_at_level_3(stack, mssp, chromium_browser):  # noqa: F811
    provider, portal = stack
    page = chromium_browser.new_context(locale="vi-VN").new_page()
    page.goto(provider.url + "/register")
    page.click("#type-citizen")
    page.click("#method-sim")
    page.fill("#phone", "0900000001")
    page.click("#sim-start")
    expect(page.locator("#sim-progress")).to_be_visible()
    _approve_when_asked(page, mssp, CITIZEN_PHONE)
    page.wait_for_url("**/register/usb/confirm?r=*")
    page.fill("#birthdate", CITIZEN_BIRTHDATE)
    page.fill("#email", "an.sim@example.vn")
    page.click("#create")
    assert "Nguyễn Văn An" in page.locator("#registered").inner_text()

    page.goto(portal.url)
    page.click("#login")
    assert page.url.startswith(provider.issuer + "/login/usb?")
    page.click("#sim-login")
    page.fill("#phone", "0900000001")
    page.click("#sim-start")
    _approve_when_asked(page, mssp, CITIZEN_PHONE)
    page.wait_for_url(provider.issuer + "/consent?*")
    page.click("#allow")
    assert page.url.startswith(portal.url)
    assert page.locator("#so_dinh_danh").input_value() == CITIZEN_CCCD
    claims = page.locator("#claims").inner_text()
    assert LEVEL_3 in claims and "mca" in claims


def test_cancel_on_the_phone_shows_its_message(stack, mssp, chromium_browser):  # noqa: F811
    provider, portal = stack
    page = chromium_browser.new_context(locale="vi-VN").new_page()
    page.goto(portal.url)
    page.click("#login")
    page.click("#sim-login")
    page.fill("#phone", "0900000002")
    page.click("#sim-start")
    mssp.control(EC_CITIZEN_PHONE, "cancel")
    page.wait_for_selector("#sim-status[data-failed]")
    assert "từ chối" in page.locator("#sim-status").inner_text()


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


class PlainCookies(requests.Session):
    """A cookie-keeping client. The provider's cookies are Secure, which 127.0.0.1 may
    carry over http (browsers treat it as a secure context) but `requests` will not:
    they are marked plain after every call."""

    def request(self, *args, **kwargs) -> requests.Response:
        response = super().request(*args, **kwargs)
        for cookie in self.cookies:
            cookie.secure = False
        return response


def _authorize(session: requests.Session, portal: Portal) -> str:
    """Follow the portal's login to the provider; the interaction id."""
    location = session.get(portal.url + "/login", timeout=10,
                           allow_redirects=False).headers["Location"]
    location = session.get(location, timeout=10, allow_redirects=False).headers["Location"]
    return query(location)["tx"]


def test_waiting_for_the_phone_holds_no_worker(stack, mssp):
    provider, portal = stack
    waiting = PlainCookies()
    tx = _authorize(waiting, portal)
    page = waiting.get(f"{provider.url}/login/sim?tx={tx}", timeout=10)
    wait = waiting.post(provider.url + "/login/sim", timeout=10, data={
        "csrf_token": _csrf(page.text), "tx": tx, "phone": "0900000002"})
    assert wait.status_code == 200, wait.text
    status_url = provider.url + re.search(r'data-status-url="([^"]+)"', wait.text).group(
        1).replace("&amp;", "&")
    stop = threading.Event()
    answers: list[str] = []

    def poll() -> None:  # the waiting browser's script, without its 1 s pause
        while not stop.is_set():
            answers.append(waiting.get(status_url, timeout=10).json()["state"])

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        other = PlainCookies()
        started = time.monotonic()
        other_tx = _authorize(other, portal)
        page = other.get(f"{provider.url}/login?tx={other_tx}", timeout=10)
        response = other.post(provider.url + "/login", timeout=10, allow_redirects=False,
                              data={"csrf_token": _csrf(page.text), "tx": other_tx,
                                    "cccd": "001090009999", "password": "Sai-mat-khau-1"})
        elapsed = time.monotonic() - started
        # The password login was fully processed: a wrong password, refused.
        assert response.status_code == 401 and 'id="error"' in response.text
        assert mssp.control(EC_CITIZEN_PHONE)["state"] == "RUNNING"
    finally:
        stop.set()
        poller.join()
    # Each status request waits at most poll_ms (1 s) on the MSSP, so each of the other
    # user's three requests waits about that long for the single thread (≈ 3 s with the
    # hash). A worker held by the wait would hold them until the phone answers or the
    # MSSP gives up (60 s): the bound leaves room for a loaded CI machine.
    assert elapsed < 15, elapsed
    assert answers and set(answers) == {"running"}
    mssp.control(EC_CITIZEN_PHONE, "cancel")
