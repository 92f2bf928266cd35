"""A provider with every page switched on, for accessibility checks in Debian's Chromium.

The live provider trusts the test PKI (so the USB-token and SIM pages are offered), asks
the registry simulators and the MSSP simulator, and has a portal, citizens and staff of
every role. `axe_problems(page)` runs axe-core (the copy shipped with
axe-playwright-python) in the page and returns its critical and serious violations.
"""

from __future__ import annotations

import json
import re
from contextlib import ExitStack
from pathlib import Path

import axe_playwright_python
import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser import chromium_browser  # noqa: F401 - pytest fixture
from tests.conftest import make_person
from tests.live import LivePortal, LiveProvider, free_port
from tests.simsign.conftest import mssp  # noqa: F401 - pytest fixture
from tests.usbtoken.conftest import usb_pki  # noqa: F401 - pytest fixture

PASSWORD = "Sen-Hong#Dong-Thap-5281"
STAFF_PASSWORD = "Can-Bo#Mot-Cua-2025x"
AXE_SOURCE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
# WCAG 2.0, 2.1 and 2.2 at levels A and AA.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


class A11yProvider(LiveProvider):
    """Registries, the test PKI and the MSSP: every login and registration page offered."""

    def __init__(self, directory: Path, registries: dict[str, str], pki, mssp_url: str
                 ) -> None:
        self.registries, self.pki, self.mssp_url = registries, pki, mssp_url
        super().__init__(directory, workers=1, threads=4)

    def _config_text(self) -> str:
        usb = self.pki.usb_token_settings()
        return (super()._config_text()
                + "".join(f'[{name}]\nurl = "{url}"\n' for name, url in self.registries.items())
                + "[usb_token]\n"
                + "".join(f"{key} = {json.dumps(value)}\n" for key, value in usb.items())
                + f'[mssp]\nurl = "{self.mssp_url}"\napi_key = "dev-mssp-key"\n')

    def add_staff(self, username: str, roles: tuple[str, ...]) -> pyotp.TOTP:
        """A staff member who has replaced the credentials an admin handed over."""
        from idp import create_app
        from idp.helpdesk.staff import create_staff
        from idp.provider import provider

        with create_app(self.settings).app_context():
            session = provider().db.session
            member, enrolment = create_staff(session, username, "Lê Thị Cán Bộ", roles,
                                             STAFF_PASSWORD, office="Bộ phận một cửa quận 1")
            member.must_replace_credentials = False
            session.commit()
        return pyotp.TOTP(enrolment.secret)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, simulators, usb_pki, mssp):  # noqa: F811
    directory = tmp_path_factory.mktemp("a11y")
    with ExitStack() as started:
        registries = {n: s.url for n, s in simulators.items() if n != "mssp"}
        provider = A11yProvider(directory, registries,
                                usb_pki, mssp.url)
        started.callback(provider.stop)
        provider.start()
        portal = LivePortal(provider, "cong-dvc-quoc-gia", "national", free_port(), directory)
        started.callback(portal.stop)
        yield provider, portal


def citizen(provider: A11yProvider, n: int):
    person = make_person(n, password=PASSWORD)
    provider.add_account({k: getattr(person, k) for k in (
        "cccd", "full_name", "birthdate", "gender", "phone", "email")}, PASSWORD)
    return person


def axe_problems(page) -> list[str]:
    """axe-core's critical and serious violations on the page as it is now, one line each."""
    page.evaluate(AXE_SOURCE)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    return [f"{v['id']} ({v['impact']}): {len(v['nodes'])}× e.g. {v['nodes'][0]['target']}"
            for v in result["violations"] if v["impact"] in ("critical", "serious")]


def sideways(page) -> int:
    """How far the page scrolls sideways (px); 0 when nothing sticks out."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def log_in(page, provider: A11yProvider, person, start: str) -> None:
    """From a page that leads to the login: password, code, and (if asked) consent."""
    page.goto(start)
    expect(page.locator("#cccd")).to_be_visible()
    page.fill("#cccd", person.cccd)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.fill("#otp", provider.last_otp(person.phone))
    page.click("#verify")
    page.wait_for_load_state()
    if "/consent" in page.url:
        page.click("#allow")
        page.wait_for_load_state()


def staff_log_in(page, provider: A11yProvider, username: str, totp: pyotp.TOTP) -> None:
    page.goto(provider.url + "/helpdesk/login")
    page.fill("#username", username)
    page.fill("#password", STAFF_PASSWORD)
    page.click("#submit")
    page.fill("#code", totp.now())
    page.click("#verify")
    page.wait_for_url(re.compile(r".*/helpdesk/?$"))
