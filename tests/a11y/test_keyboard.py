"""Keyboard only, in Debian's Chromium: Tab, Shift+Tab, typing, Enter and Space, no clicks.

Each walk reaches every control it uses by tabbing to it, and at every stop asserts that
the focused control is on screen and carries a visible focus ring; after every refused
form, that the focus is on the error summary (so a screen reader reads what went wrong
first). Walks: login with password, OTP and consent; registration by mobile subscriber;
forgot password; logout; adding a phone in the account console; a staff phone reset.
Screenshots of refused forms (1280 px and 375 px) go to $IDP_SCREENSHOTS when set.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from connectors.simulators.fixtures import load_fixtures
from tests.a11y.conftest import PASSWORD, STAFF_PASSWORD, citizen
from tests.browser import chromium_browser  # noqa: F401 - pytest fixture
from vnid.person import mask_phone

pytestmark = pytest.mark.browser

FIXTURES = load_fixtures()
NEW_PASSWORD = "Cay-Tre#Lang-Que-8362"
WRONG = "Sai-Mat-Khau#2024-xyz"

# The focused element, where it is and whether a focus ring shows. Chromium's own ring
# (outline-style "auto") counts; so does ours (a 3 px outline) or a box shadow.
FOCUS_STATE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const r = el.getBoundingClientRect();
  const s = getComputedStyle(el);
  const ring = (s.outlineStyle === "auto") ||
    (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== "none";
  return {
    what: el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
          (el.name ? "[name=" + el.name + "]" : ""),
    onScreen: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 &&
              r.top < window.innerHeight && r.left < window.innerWidth,
    ring: ring,
  };
}"""


class Keyboard:
    """Moves through a page as a keyboard user does, checking every stop of the focus."""

    def __init__(self, page) -> None:
        self.page = page
        self.stops = 0

    def on(self, selector: str) -> bool:
        return self.page.evaluate(
            "s => !!document.activeElement && document.activeElement.matches(s)", selector)

    def tab_to(self, selector: str, *, back: bool = False, limit: int = 80) -> None:
        """Tab (or Shift+Tab) until `selector` has the focus; every stop on the way must be
        visible and ringed."""
        for _ in range(limit):
            if self.on(selector):
                return
            self.page.keyboard.press("Shift+Tab" if back else "Tab")
            self.stops += 1
            state = self.page.evaluate(FOCUS_STATE)
            if state is None:  # the focus left the document (past the last control)
                continue
            assert state["onScreen"], f"{state['what']} has the focus off screen at {self.page.url}"
            assert state["ring"], f"{state['what']} has the focus but no ring at {self.page.url}"
        raise AssertionError(f"{selector} never got the focus by Tab at {self.page.url}")

    def fill(self, selector: str, text: str) -> None:
        """Tab to a field, clear it and type."""
        self.tab_to(selector)
        self.page.keyboard.press("Control+A")
        self.page.keyboard.press("Delete")
        self.page.keyboard.type(text)

    def type_date(self, selector: str, day) -> None:
        """Tab to a date field and type its parts as digits, in the order the browser's
        language shows them (day first in Vietnamese, month first in English)."""
        self.tab_to(selector)
        for pattern in ("%d%m%Y", "%m%d%Y"):
            self.page.keyboard.type(day.strftime(pattern))
            if self.page.locator(selector).input_value() == day.isoformat():
                return
            self.page.keyboard.press("Shift+Tab")  # back to the field's first part
            self.page.keyboard.press("Shift+Tab")
            self.tab_to(selector)
        expect(self.page.locator(selector)).to_have_value(day.isoformat())

    def choose(self, selector: str, value: str) -> None:
        """Tab to a closed <select> and move its choice with the arrow keys."""
        self.tab_to(selector)
        for key in ("Home",) + ("ArrowDown",) * 12:
            if self.page.locator(selector).input_value() == value:
                return
            self.page.keyboard.press(key)
        expect(self.page.locator(selector)).to_have_value(value)

    def press(self, selector: str, key: str = "Enter") -> None:
        """Tab to a link or button and press it (Enter, or Space for a button)."""
        self.tab_to(selector)
        with self.page.expect_navigation():
            self.page.keyboard.press(key)

    def refused(self, shots, name: str) -> None:
        """The page refused the form: the error summary holds the focus, ringed."""
        expect(self.page.locator("#error-summary, [data-refusal]").first).to_be_focused()
        state = self.page.evaluate(FOCUS_STATE)
        assert state["ring"], f"the error summary has no focus ring at {self.page.url}"
        shots(self.page, name)


@pytest.fixture
def shots(tmp_path):
    """`shots(page, name)`: the page as it is, at 1280 px and 375 px."""
    target = Path(os.environ.get("IDP_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)

    def shoot(page, name: str) -> None:
        for width in (1280, 375):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(target / f"keyboard-{name}-{width}.png"))
        page.set_viewport_size({"width": 1280, "height": 900})

    return shoot


def new_page(browser):
    return browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 900}).new_page()


def keyboard_log_in(keys: Keyboard, provider, person, password: str = PASSWORD) -> None:
    """On the login page: CCCD, password, Enter; the SMS code, Enter."""
    keys.fill("#cccd", person.cccd)
    keys.fill("#password", password)
    keys.press("#submit")
    keys.fill("#otp", provider.last_otp(person.phone))
    keys.press("#verify")


def test_login_with_consent_and_logout_by_keyboard(stack, chromium_browser, shots):  # noqa: F811
    provider, portal = stack
    person = citizen(provider, 411)
    page = new_page(chromium_browser)
    keys = Keyboard(page)
    page.goto(portal.url)
    keys.press("#login")
    expect(page.locator("#cccd")).to_be_focused()  # the first field takes the focus

    keys.fill("#cccd", person.cccd)
    keys.fill("#password", WRONG)
    keys.press("#submit")
    keys.refused(shots, "login-refused")
    # From the summary, Shift+Tab never needed: Tab reaches the password again.
    keys.fill("#password", PASSWORD)
    keys.press("#submit")
    expect(page.locator("#otp")).to_be_focused()
    keys.fill("#otp", "000000" if provider.last_otp(person.phone) != "000000" else "111111")
    keys.press("#verify")
    keys.refused(shots, "otp-refused")
    keys.fill("#otp", provider.last_otp(person.phone))
    keys.press("#verify")
    page.wait_for_url("**/consent?*")
    keys.press("#allow", "Space")
    page.wait_for_url(portal.url + "/")
    expect(page.locator("#greeting")).to_contain_text(person.full_name)

    page.goto(provider.url + "/logout")
    keys.press("#confirm")
    page.goto(provider.url + "/account")
    expect(page.locator("#cccd")).to_be_visible()  # logged out: the login asks again
    assert keys.stops > 10


def test_registration_by_keyboard(stack, chromium_browser, shots):  # noqa: F811
    provider, _ = stack
    fixture = FIXTURES.with_scenario("carrier: full match")[2]
    page = new_page(chromium_browser)
    keys = Keyboard(page)
    page.goto(provider.url + "/register")
    keys.press("#type-citizen")
    keys.press("#method-mobile")
    keys.press("#submit")  # nothing typed
    keys.refused(shots, "register-refused")
    expect(page.locator("#cccd")).to_have_attribute("aria-invalid", "true")

    keys.fill("#cccd", fixture.cccd)
    keys.fill("#full_name", fixture.full_name)
    keys.type_date("#birthdate", fixture.birthdate)
    keys.choose("#gender", fixture.gender)
    keys.fill("#phone", fixture.phone)
    keys.fill("#captcha", provider.captcha_answer(page.locator("#captcha-id").input_value()))
    keys.press("#submit")
    keys.fill("#otp", provider.last_otp(fixture.phone))
    keys.press("#verify")
    keys.fill("#password", PASSWORD)
    keys.fill("#confirm", PASSWORD + "x")
    keys.press("#submit")
    keys.refused(shots, "register-password-refused")
    keys.fill("#password", PASSWORD)
    keys.fill("#confirm", PASSWORD)
    keys.press("#submit")
    expect(page.locator("#registered")).to_be_visible()


def test_forgot_password_by_keyboard(stack, chromium_browser, shots):  # noqa: F811
    provider, _ = stack
    person = citizen(provider, 412)
    page = new_page(chromium_browser)
    keys = Keyboard(page)
    page.goto(provider.url + "/forgot")
    keys.fill("#cccd", person.cccd)
    keys.fill("#captcha", "000000")
    keys.press("#submit")
    keys.refused(shots, "forgot-refused")
    keys.fill("#captcha", provider.captcha_answer(page.locator("#captcha-id").input_value()))
    keys.press("#submit")
    keys.fill("#otp", provider.last_otp(person.phone))
    keys.press("#verify")
    keys.fill("#password", NEW_PASSWORD)
    keys.fill("#confirm", NEW_PASSWORD)
    keys.press("#submit")
    expect(page.locator("#reset-done")).to_be_visible()


def test_adding_a_phone_in_the_console_by_keyboard(stack, chromium_browser, shots):  # noqa: F811
    provider, _ = stack
    owner = FIXTURES.one("carrier: two subscriptions")
    first, second = owner.subscriptions[0].phone, owner.subscriptions[1].phone
    provider.add_account({"cccd": owner.cccd, "full_name": owner.full_name,
                          "birthdate": owner.birthdate.isoformat(), "gender": owner.gender,
                          "phone": first, "email": ""}, PASSWORD)
    page = new_page(chromium_browser)
    keys = Keyboard(page)
    page.goto(provider.url + "/account/security")
    keyboard_log_in(keys, provider, owner)
    page.wait_for_url("**/account/security")
    keys.fill("#phone", "12")
    keys.press("#add-phone")
    keys.refused(shots, "console-phone-refused")
    expect(page.locator("#phone")).to_have_attribute("aria-invalid", "true")
    keys.fill("#phone", "0" + second[3:])
    keys.press("#add-phone")
    keys.fill("#otp", provider.last_otp(second))
    keys.press("#verify")
    page.wait_for_url("**/account/security?*")
    expect(page.locator("#otp-phones")).to_contain_text(mask_phone(second))


def test_staff_phone_reset_by_keyboard(stack, chromium_browser, shots):  # noqa: F811
    provider, _ = stack
    person = FIXTURES.with_scenario("carrier: full match")[3]
    provider.add_account({"cccd": person.cccd, "full_name": person.full_name,
                          "birthdate": person.birthdate.isoformat(), "gender": person.gender,
                          "phone": "+84909990001", "email": ""}, PASSWORD)
    totp = provider.add_staff("motcua.phim", ("registrar",))
    page = new_page(chromium_browser)
    keys = Keyboard(page)
    page.goto(provider.url + "/helpdesk/login")
    keys.fill("#username", "motcua.phim")
    keys.fill("#password", STAFF_PASSWORD)
    keys.press("#submit")
    keys.fill("#code", totp.now())
    keys.press("#verify")
    page.wait_for_url(re.compile(r".*/helpdesk/?$"))
    keys.fill("#cccd", person.cccd)
    keys.press("#search")
    keys.press("#reset-phone")
    keys.press("#start-reset")  # nothing filled in
    keys.refused(shots, "staff-reset-refused")
    keys.fill("#reason", "Công dân bị mất điện thoại")
    keys.choose("#evidence_type", "cccd")
    keys.fill("#evidence_number", person.cccd)
    keys.fill("#new_phone", person.phone)
    keys.press("#start-reset")
    keys.fill("#otp", provider.last_otp(person.phone))
    keys.press("#verify")
    expect(page.locator("#reset-status")).to_have_attribute("data-status", "done")
