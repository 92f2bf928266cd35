"""idp/login/throttle.py: owner-first throttling of password logins, called directly. A
browser the citizen logged in from before (its device cookie) is counted on its own; every
other browser shares one count per CCCD and meets the captcha, the growing wait and the
pause. Settings are the defaults: captcha from the 3rd failure, waits from the 5th, a pause
after 10 (login.failures.cccd)."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
from flask import Response

from idp.login.devices import COOKIE, remember_device, write_device_cookie
from idp.login.throttle import CITIZENS, STAFF, Gate
from idp.sessions import cookie_name
from tests.unit.service_app import ADDRESS, spend

CCCD = "001085000123"
OTHER_ADDRESS = "198.51.100.9"


@pytest.fixture
def owners_browser(app, provider):
    """Requests from the browser the citizen logged in from before (a context manager).
    Each has an app context of its own: a request context alone would share the test's `g`,
    where the browser's device entries are kept."""
    with app.app_context(), app.test_request_context("/"):
        remember_device("citizen", CCCD)
        set_cookie = write_device_cookie(Response()).headers["Set-Cookie"]
    cookie = set_cookie.split(";", 1)[0]
    assert cookie.startswith(cookie_name(COOKIE) + "=")

    @contextmanager
    def request():
        with app.app_context(), app.test_request_context(
                "/", headers={"Cookie": cookie}, environ_base={"REMOTE_ADDR": ADDRESS}):
            yield

    return request


def stranger_failures(count: int, who: str = CCCD) -> None:
    """Failed logins for `who` from browsers that never logged in to it (the test's own)."""
    for _ in range(count):
        CITIZENS.record_failure(who, ADDRESS)


def test_failures_in_the_owners_browser_count_on_that_browser_not_on_the_cccd(
        provider, owners_browser):
    with owners_browser():
        CITIZENS.record_failure(CCCD, ADDRESS)
    assert CITIZENS.failures_counted(CCCD) == 0


def test_strangers_are_paused_until_the_window_ends_and_the_owners_browser_is_not(
        provider, owners_browser):
    stranger_failures(10)
    answer = CITIZENS.check(CCCD, ADDRESS, captcha_ok=True)
    assert answer.gate is Gate.PAUSED
    assert answer.until == pytest.approx(time.time() + 3600, abs=10)
    assert CITIZENS.paused_until(CCCD) == answer.until
    with owners_browser():
        assert CITIZENS.check(CCCD, ADDRESS, captcha_ok=False).gate is Gate.OPEN
        assert CITIZENS.paused_until(CCCD) is None


def test_from_the_third_failure_an_unknown_browser_must_solve_a_captcha(provider):
    stranger_failures(2)
    assert not CITIZENS.captcha_needed(CCCD, ADDRESS)
    stranger_failures(1)
    assert CITIZENS.captcha_needed(CCCD, ADDRESS)
    assert CITIZENS.check(CCCD, ADDRESS, captcha_ok=False).gate is Gate.CAPTCHA
    assert CITIZENS.check(CCCD, ADDRESS, captcha_ok=True).gate is Gate.OPEN


def test_the_owners_browser_never_meets_the_captcha(provider, owners_browser):
    stranger_failures(4)
    with owners_browser():
        assert not CITIZENS.captcha_needed(CCCD, ADDRESS)


def test_a_busy_address_asks_for_a_captcha_before_any_cccd_is_typed(provider):
    spend(provider.limits, "login.failures.address", ADDRESS)
    assert CITIZENS.captcha_needed(None, ADDRESS)
    assert not CITIZENS.captcha_needed(None, OTHER_ADDRESS)


def test_from_the_fifth_failure_each_try_waits_twice_as_long_as_the_last(provider):
    stranger_failures(5)
    assert CITIZENS.check(CCCD, ADDRESS, captcha_ok=True).wait_seconds == 1
    stranger_failures(2)
    answer = CITIZENS.check(CCCD, ADDRESS, captcha_ok=True)
    assert (answer.gate, answer.wait_seconds) == (Gate.WAIT, 4)


def test_a_try_the_gate_turns_away_is_not_counted(provider):
    stranger_failures(3)
    assert CITIZENS.check(CCCD, ADDRESS, captcha_ok=False).gate is Gate.CAPTCHA
    assert provider.limits.count("login.attempts.address", ADDRESS) == 0
    assert CITIZENS.check(CCCD, ADDRESS, captcha_ok=True).gate is Gate.OPEN
    assert provider.limits.count("login.attempts.address", ADDRESS) == 1


def test_an_address_that_checked_too_many_passwords_holds_unknown_browsers_only(
        provider, owners_browser):
    spend(provider.limits, "login.attempts.address", ADDRESS)
    assert CITIZENS.check(CCCD, ADDRESS, captcha_ok=True).gate is Gate.ADDRESS_PAUSED
    assert CITIZENS.check(CCCD, OTHER_ADDRESS, captcha_ok=True).gate is Gate.OPEN
    with owners_browser():
        assert CITIZENS.check(CCCD, ADDRESS, captcha_ok=False).gate is Gate.OPEN
    assert provider.limits.count("login.attempts.address", ADDRESS) == (
        provider.limits.amount("login.attempts.address"))


def test_a_known_browser_that_used_up_its_own_failures_is_treated_as_unknown(
        provider, owners_browser):
    with owners_browser():
        for _ in range(10):
            CITIZENS.record_failure(CCCD, ADDRESS)
        assert CITIZENS.known_device(CCCD) is None
        CITIZENS.record_failure(CCCD, ADDRESS)
    assert CITIZENS.failures_counted(CCCD) == 1


def test_a_complete_login_forgives_the_browsers_own_failures_not_the_strangers(
        provider, owners_browser):
    stranger_failures(3)
    with owners_browser():
        for _ in range(10):
            CITIZENS.record_failure(CCCD, ADDRESS)
        CITIZENS.forgive_device(CCCD)
        assert CITIZENS.known_device(CCCD) is not None
    assert CITIZENS.failures_counted(CCCD) == 3


def test_lifting_a_pause_forgets_the_failures_and_the_wait(provider):
    stranger_failures(10)
    CITIZENS.lift(CCCD)
    assert not CITIZENS.paused(CCCD)
    assert CITIZENS.failures_counted(CCCD) == 0
    assert CITIZENS.check(CCCD, ADDRESS, captcha_ok=False).gate is Gate.OPEN


def test_citizens_and_staff_are_counted_apart(provider):
    stranger_failures(10, who="an")
    assert CITIZENS.paused("an")
    assert not STAFF.paused("an")
    assert STAFF.check("an", ADDRESS, captcha_ok=False).gate is Gate.OPEN
