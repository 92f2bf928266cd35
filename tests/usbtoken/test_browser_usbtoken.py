"""End to end in Debian's Chromium: a citizen and an enterprise register with their USB
tokens and log in at level 3; the portals receive the CCCD and the MST.

Everything is real: the provider under gunicorn, the example portals as their own
processes, the local signing agent on SoftHSM tokens (PIN from the environment, as only
tests do), and the login page's script calling the agent from the browser.
"""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser import chromium_browser  # noqa: F401 - pytest fixture
from tests.live import REPO, LiveProvider, free_port, wait_for
from tests.usbtoken.conftest import (
    CITIZEN_BIRTHDATE,
    CITIZEN_CCCD,
    ENTERPRISE_MST,
    LEVEL_3,
    SCOPES,
    UsbPki,
    start_agent,
)

pytestmark = pytest.mark.browser


class UsbTokenProvider(LiveProvider):
    """The live provider trusting the test PKI, its pages pointing at the test agent."""

    def __init__(self, directory: Path, pki: UsbPki, agent_port: int) -> None:
        self.pki, self.agent_port = pki, agent_port
        super().__init__(directory, workers=1, threads=4)

    def _config_text(self) -> str:
        usb = self.pki.usb_token_settings()
        return super()._config_text() + "[usb_token]\n" + "".join(
            f"{key} = {json.dumps(value)}\n" for key, value in usb.items()
        ) + f'agent_url = "http://127.0.0.1:{self.agent_port}"\n'


class Portal:
    """examples/portal.py with its own scope and acr_values."""

    def __init__(self, provider: LiveProvider, client_id: str, directory: Path,
                 *options: str) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        registered = provider.add_portal(client_id, self.url, scopes=SCOPES)
        log = directory / f"portal-{port}.log"
        self.process = subprocess.Popen(  # noqa: S603 - our own example
            # "--flag=value": a random secret may begin with "-".
            [sys.executable, str(REPO / "examples" / "portal.py"), "--kind=national",
             f"--port={port}", f"--issuer={provider.issuer}", f"--client-id={client_id}",
             f"--client-secret={registered.secret}", *options],
            stdout=log.open("w"), stderr=subprocess.STDOUT)
        wait_for(self.url + "/api/session", process=self.process, log=log)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, usb_pki, softhsm_tokens):
    directory = tmp_path_factory.mktemp("usb-e2e")
    agent_port = free_port()
    with ExitStack() as started:  # what did start stops, also when a later part fails
        provider = UsbTokenProvider(directory, usb_pki, agent_port)
        started.callback(provider.stop)
        provider.start()
        agent = start_agent(softhsm_tokens, provider.url, agent_port)
        started.callback(agent.stop)
        citizen_portal = Portal(provider, "cong-dvc", directory)
        started.callback(citizen_portal.stop)
        business_portal = Portal(provider, "cong-doanh-nghiep", directory,
                                 f"--acr-values={LEVEL_3}", "--scope=openid profile organization")
        started.callback(business_portal.stop)
        yield provider, agent, citizen_portal, business_portal


def _sign(page, agent, token: str) -> None:
    """On a signing page: pick the token's certificate once the agent listed it, sign."""
    page.select_option("#usb-certificate", agent.certificates()[token]["id"])
    page.click("#usb-sign")


def _register(page, provider, agent, account_type: str, token: str, **fields: str) -> None:
    page.goto(provider.url + "/register")
    page.click(f"#type-{account_type}")
    page.click("#method-usb")
    _sign(page, agent, token)
    page.wait_for_url("**/register/usb/confirm?r=*")
    for name, value in fields.items():
        page.fill(f"#{name}", value)
    page.click("#create")
    expect(page.locator("#registered")).to_be_visible()


def test_citizen_and_enterprise_register_and_log_in_at_level_3(stack, chromium_browser):  # noqa: F811
    provider, agent, citizen_portal, business_portal = stack

    # A citizen registers with the token, then logs in from the password page's link.
    page = chromium_browser.new_context(locale="vi-VN").new_page()
    _register(page, provider, agent, "citizen", "citizen-rsa", birthdate=CITIZEN_BIRTHDATE,
              email="an@example.vn")
    assert "Nguyễn Văn An" in page.locator("#registered").inner_text()
    page.goto(citizen_portal.url)
    page.click("#login")
    assert page.url.startswith(provider.issuer + "/login?")
    page.click("#usb-login")
    _sign(page, agent, "citizen-rsa")
    page.wait_for_url(provider.issuer + "/consent?*")
    page.click("#allow")
    assert page.url.startswith(citizen_portal.url)
    assert page.locator("#so_dinh_danh").input_value() == CITIZEN_CCCD
    claims = page.locator("#claims").inner_text()
    assert LEVEL_3 in claims and "hwk" in claims

    # An enterprise registers, then a portal that demands level 3 sends it to the token.
    page = chromium_browser.new_context(locale="vi-VN").new_page()
    _register(page, provider, agent, "enterprise", "enterprise")
    page.goto(business_portal.url)
    page.click("#login")
    assert page.url.startswith(provider.issuer + "/login/usb?")
    expect(page.locator("#level3")).to_be_visible()
    _sign(page, agent, "enterprise")
    page.wait_for_url(provider.issuer + "/consent?*")
    assert ENTERPRISE_MST in page.locator("#claims").inner_text()
    page.click("#allow")
    assert page.url.startswith(business_portal.url)
    claims = page.locator("#claims").inner_text()
    assert ENTERPRISE_MST in claims and LEVEL_3 in claims
    assert "Công ty TNHH Phần mềm Sông Hồng" in claims
