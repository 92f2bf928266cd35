"""SIM-signature tests: the USB-token tests' PKI and provider settings (the SIM certificates
come from the same test CAs, trusted through [usb_token]) plus a running MSSP simulator."""

from __future__ import annotations

import re

import pytest
import requests

from connectors.simulators.fixtures import load_fixtures
from connectors.simulators.mssp import create_app
from connectors.simulators.serving import start
from tests.conftest import csrf_from, query
from tests.usbtoken.conftest import token_account, usb_pki  # noqa: F401 - shared fixtures

API_KEY = "test-mssp-key"
CITIZEN_PHONE = "+84900000001"  # citizen-rsa
EC_CITIZEN_PHONE = "+84900000002"  # citizen-ec
ENTERPRISE_PHONE = "+84900000003"
EXPIRED_PHONE = "+84900000004"
REVOKED_PHONE = "+84900000005"


class Mssp:
    """The running simulator and its control API."""

    def __init__(self, url: str) -> None:
        self.url = url

    def control(self, phone: str, action: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        if action is None:
            response = requests.get(f"{self.url}/_control/phones/{phone}", headers=headers,
                                    timeout=5)
        else:
            response = requests.post(f"{self.url}/_control/phones/{phone}", headers=headers,
                                     json={"action": action}, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="session")
def mssp(usb_pki):  # noqa: F811 - the imported fixture
    server = start(create_app(load_fixtures(), API_KEY, pki_dir=usb_pki.directory,
                              expire_after=60))
    yield Mssp(server.url)
    server.stop()


@pytest.fixture
def settings(settings_for, usb_pki, mssp, overrides):  # noqa: F811
    """A provider trusting the test PKI and asking the simulator, plus test overrides."""
    sections: dict[str, dict] = {
        "usb_token": usb_pki.usb_token_settings(),
        "mssp": {"url": mssp.url, "api_key": API_KEY, "poll_ms": 100},
    }
    for name, values in overrides.items():
        sections[name] = {**sections.get(name, {}), **values}
    return settings_for(**sections)


class SimBrowser:
    """A browser on the SIM login pages: phone number, waiting page, status polls."""

    def __init__(self, browser) -> None:
        self.browser = browser

    def start(self, tx: str, phone: str):
        """Open the phone form and post `phone`; the waiting page's response."""
        page = self.browser.get("/login/sim", query_string={"tx": tx})
        assert page.status_code == 200, page.get_data(as_text=True)
        return self.browser.post("/login/sim", data={
            "csrf_token": csrf_from(page.get_data(as_text=True)), "tx": tx, "phone": phone})

    @staticmethod
    def status_url(wait_page) -> str:
        match = re.search(r'data-status-url="([^"]+)"', wait_page.get_data(as_text=True))
        assert match, wait_page.get_data(as_text=True)
        return match.group(1).replace("&amp;", "&")

    @staticmethod
    def code(wait_page) -> str:
        match = re.search(r'id="sim-code"><strong>(\d{4})<', wait_page.get_data(as_text=True))
        assert match
        return match.group(1)

    def status(self, url: str) -> dict:
        response = self.browser.get(url)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def finish(self, url: str, attempts: int = 50) -> dict:
        """Poll until the request is no longer running."""
        for _ in range(attempts):
            answer = self.status(url)
            if answer["state"] != "running":
                return answer
        raise AssertionError("still running")


@pytest.fixture
def sim(browser) -> SimBrowser:
    return SimBrowser(browser)


def tx_of(location: str) -> str:
    return query(location)["tx"]
