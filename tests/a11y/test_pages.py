"""axe-core on every page citizens, the account console and staff can reach, as it first
shows and as it shows a refusal, at 1280 px and 375 px: no critical and no serious
violation (WCAG 2.2 A and AA rules), no page scrolls sideways at 320 px, and at 200 % zoom
(640 px) with WCAG's text spacing nothing scrolls sideways or cuts its text off.

Every page is checked and all problems are reported together, so one run lists them all.
Screenshots of a refused form go to $IDP_SCREENSHOTS when set.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.a11y.conftest import (
    PASSWORD,
    axe_problems,
    citizen,
    log_in,
    sideways,
    staff_log_in,
)
from tests.browser import chromium_browser  # noqa: F401 - pytest fixture

pytestmark = pytest.mark.browser

WIDTHS = (1280, 375)
TEXT_SPACING = ("* { line-height: 1.5 !important; letter-spacing: 0.12em !important;"
                " word-spacing: 0.16em !important; } p { margin-bottom: 2em !important; }")
# Elements whose text no longer fits and is cut off (overflow hidden or clipped), except
# text that is only for screen readers (a 1 px box).
CLIPPED_TEXT = """() => [...document.querySelectorAll('body *')].filter(el => {
  const s = getComputedStyle(el);
  if (!['hidden', 'clip'].includes(s.overflowX) && !['hidden', 'clip'].includes(s.overflowY))
    return false;
  if (!el.innerText || !el.innerText.trim() || el.offsetParent === null) return false;
  const box = el.getBoundingClientRect();
  if (box.width <= 1 && box.height <= 1) return false;  // hidden for screen readers on purpose
  return el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1;
}).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
       (el.className ? '.' + String(el.className).split(' ')[0] : ''))"""


class Audit:
    """Problems found per page; `check(page, name)` looks at the page as it is now."""

    def __init__(self) -> None:
        self.problems: dict[str, list[str]] = {}
        self.pages = 0
        shots = os.environ.get("IDP_SCREENSHOTS")
        self.shots = Path(shots) if shots else None

    def check(self, page, name: str) -> None:
        # After a click, the new page may still be loading its style sheet; axe would judge
        # colours of a half-styled page.
        page.wait_for_load_state()
        self.pages += 1
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for problem in axe_problems(page):
                self.problems.setdefault(f"{name} @{width}", []).append(problem)
            if self.shots:
                self.shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(self.shots / f"a11y-{name}-{width}.png"), full_page=True)
        page.set_viewport_size({"width": 320, "height": 900})
        if (overflow := sideways(page)) > 0:
            self.problems.setdefault(f"{name} @320", []).append(
                f"scrolls sideways by {overflow} px")
        # 200 % zoom of a 1280 px window, with WCAG 1.4.12's text spacing.
        page.set_viewport_size({"width": 640, "height": 900})
        # Through the CSS object model: the provider's CSP refuses inline <style>, as a
        # reader's own style sheet (a bookmarklet, an extension) is not.
        page.evaluate("""css => { const sheet = new CSSStyleSheet(); sheet.replaceSync(css);
            document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet]; }""",
                      TEXT_SPACING)
        if (overflow := sideways(page)) > 0:
            self.problems.setdefault(f"{name} @640+spacing", []).append(
                f"scrolls sideways by {overflow} px")
        for clipped in page.evaluate(CLIPPED_TEXT):
            self.problems.setdefault(f"{name} @640+spacing", []).append(f"{clipped} clips its text")
        page.evaluate("() => { document.adoptedStyleSheets = "
                      "document.adoptedStyleSheets.slice(0, -1); }")
        page.set_viewport_size({"width": 1280, "height": 900})

    def assert_clean(self) -> None:
        assert self.problems == {}, "\n".join(
            f"{page}: {problem}" for page, problems in self.problems.items()
            for problem in problems)


@pytest.fixture
def audit():
    return Audit()


def test_citizen_pages(stack, chromium_browser, audit):  # noqa: F811
    provider, portal = stack
    person = citizen(provider, 401)
    page = chromium_browser.new_context(locale="vi-VN").new_page()
    page.goto(portal.url + "/login")
    expect(page.locator("#cccd")).to_be_visible()
    audit.check(page, "login")
    page.fill("#cccd", person.cccd)
    page.fill("#password", "Sai-Mat-Khau#2024-xyz")
    page.click("#submit")
    expect(page.locator("#error")).to_be_visible()
    audit.check(page, "login-refused")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    expect(page.locator("#otp")).to_be_visible()
    audit.check(page, "otp")
    page.fill("#otp", "000000" if provider.last_otp(person.phone) != "000000" else "111111")
    page.click("#verify")
    expect(page.locator("#error")).to_be_visible()
    audit.check(page, "otp-refused")
    page.fill("#otp", provider.last_otp(person.phone))
    page.click("#verify")
    page.wait_for_url("**/consent?*")
    audit.check(page, "consent")
    page.click("#allow")
    page.wait_for_url(portal.url + "/")

    page.goto(provider.url + "/logout")
    audit.check(page, "logout-confirm")
    page.click("#confirm")
    audit.check(page, "logged-out")
    page.goto(provider.url + "/login?tx=nothing-like-it")
    audit.check(page, "error")

    for path in ("/register", "/register/citizen", "/register/enterprise", "/register/bhxh",
                 "/register/post", "/register/usb/citizen", "/register/sim/citizen"):
        page.goto(provider.url + path)
        audit.check(page, path.strip("/").replace("/", "-"))
    page.goto(provider.url + "/register/mobile")
    audit.check(page, "register-mobile")
    page.click("#submit")  # nothing typed: every field refused
    expect(page.locator(".field-error").first).to_be_visible()
    audit.check(page, "register-mobile-refused")

    page.goto(provider.url + "/forgot")
    audit.check(page, "forgot")
    page.fill("#cccd", "12345")
    page.fill("#captcha", "000000")
    page.click("#submit")
    audit.check(page, "forgot-refused")
    audit.assert_clean()


def test_account_console_pages(stack, chromium_browser, audit):  # noqa: F811
    provider, _ = stack
    person = citizen(provider, 402)
    page = chromium_browser.new_context(locale="vi-VN").new_page()
    log_in(page, provider, person, provider.url + "/account")
    for path in ("/account", "/account/history", "/account/sessions", "/account/security",
                 "/account/email", "/account/portals", "/account/sharing", "/account/totp",
                 "/account/password", "/account/usb", "/account/sim", "/account/data"):
        page.goto(provider.url + path)
        audit.check(page, path.strip("/").replace("/", "-"))
    page.goto(provider.url + "/account/password")
    page.fill("#current", "Sai-Mat-Khau#2024-xyz")
    page.fill("#password", "abc")
    page.fill("#confirm", "abd")
    page.click("#submit")
    audit.check(page, "account-password-refused")
    page.goto(provider.url + "/account/security")
    page.fill("#phone", "12")
    page.click("#add-phone")
    audit.check(page, "account-security-refused")
    notice = provider.settings.path(provider.settings.sms.outbox_path).read_text()
    page.goto(re.findall(r"(http\S+/account/not-me/\S+)", notice)[-1])
    audit.check(page, "account-not-me-confirm")
    page.goto(provider.url + "/account/history")
    page.get_by_role("button", name="Không phải tôi").first.click()  # last: it logs out
    expect(page.locator("#complaint-number")).to_be_visible()
    audit.check(page, "account-not-me-done")
    audit.assert_clean()


def test_staff_pages(stack, chromium_browser, audit):  # noqa: F811
    provider, _ = stack
    person = citizen(provider, 403)
    admin = provider.add_staff("quantri.a11y", ("admin", "supervisor", "registrar", "helpdesk",
                                                "auditor"))
    page = chromium_browser.new_context(locale="vi-VN").new_page()
    page.goto(provider.url + "/helpdesk/login")
    audit.check(page, "staff-login")
    page.fill("#username", "quantri.a11y")
    page.fill("#password", "Sai-Mat-Khau#2024-xyz")
    page.click("#submit")
    audit.check(page, "staff-login-refused")
    staff_log_in(page, provider, "quantri.a11y", admin)
    audit.check(page, "staff-home")
    page.fill("#cccd", person.cccd)
    page.click("#search")
    page.wait_for_url("**/helpdesk/accounts/*")
    account_url = page.url
    audit.check(page, "staff-account")
    page.goto(account_url + "/reset-phone")
    audit.check(page, "staff-reset-form")
    page.click("#start-reset")
    audit.check(page, "staff-reset-form-refused")
    for path in ("/helpdesk/register", "/helpdesk/complaints", "/helpdesk/audit",
                 "/helpdesk/staff", "/helpdesk/staff/new", "/helpdesk/backchannel"):
        page.goto(provider.url + path)
        audit.check(page, path.strip("/").replace("/", "-"))
    page.goto(provider.url + "/helpdesk/register")
    page.click("#register")
    audit.check(page, "staff-register-refused")
    page.goto(provider.url + "/helpdesk/nothing-here")
    audit.check(page, "staff-error")
    audit.assert_clean()
