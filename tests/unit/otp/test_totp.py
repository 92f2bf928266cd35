"""idp/security/totp.py: codes from a citizen's authenticator app (verify_account_code),
their shape, the ±1 step window, the replay window, and the secret pending enrolment."""

from __future__ import annotations

import time

import pyotp
import pytest

from idp.security import totp
from idp.security.sealed import seal
from idp.store.models import Account

SECRET = pyotp.random_base32()
STEP = 30


@pytest.fixture
def account(provider) -> Account:
    """An account with an enrolled app (not stored: the check reads only its sealed secret)."""
    return Account(id=41, totp_secret=seal(SECRET, totp.ACCOUNT_PURPOSE))


def code_at(steps: int, secret: str = SECRET) -> str:
    """The app's code `steps` time steps from now, away from a step boundary."""
    while time.time() % STEP > STEP - 0.2:  # the step would change before the check
        time.sleep(0.05)
    return pyotp.TOTP(secret).at(time.time() + steps * STEP)


def test_the_apps_current_code_is_accepted(account):
    assert totp.verify_account_code(account, code_at(0))


def test_one_step_of_clock_drift_either_side_is_accepted(account):
    assert totp.verify_account_code(account, code_at(-1))
    assert totp.verify_account_code(account, code_at(1))


def test_a_code_two_steps_away_is_refused(account):
    assert not totp.verify_account_code(account, code_at(-2))
    assert not totp.verify_account_code(account, code_at(2))


def test_a_code_is_accepted_once_only(account):
    code = code_at(0)
    assert totp.verify_account_code(account, code)
    assert not totp.verify_account_code(account, code)


def test_a_used_code_is_remembered_as_long_as_it_could_be_valid(account, provider):
    code = code_at(0)
    totp.verify_account_code(account, code)
    remembered_until = provider.state.expires_at(f"totp-used:{account.id}:{code}")
    assert remembered_until - time.time() >= 3 * STEP - 1  # the code's step and one either side


def test_a_wrong_code_does_not_use_up_the_right_one(account):
    code = code_at(0)
    assert not totp.verify_account_code(account, f"{(int(code) + 1) % 1_000_000:06d}")
    assert totp.verify_account_code(account, code)


def test_an_account_without_an_app_accepts_no_code(provider):
    assert not totp.verify_account_code(Account(id=43, totp_secret=None), code_at(0))


def test_only_six_ascii_digits_have_the_shape_of_a_code():
    assert totp.clean_code(" 123 456 ") == "123456"
    for typed in ("12345", "1234567", "12345a", "１２３４５６", "²23456", "-12345", ""):
        assert totp.clean_code(typed) is None, typed


def test_the_secret_pending_enrolment_stays_the_same_until_it_expires(provider):
    secret, fresh = totp.pending_secret("totp-pending:7", 600)
    again, fresh_again = totp.pending_secret("totp-pending:7", 600)
    assert (again, fresh, fresh_again) == (secret, True, False)
    assert SECRET not in str(provider.state.get("totp-pending:7"))
    assert secret not in str(provider.state.get("totp-pending:7"))  # kept sealed
    provider.state.expire_now("totp-pending:7")
    assert totp.offered_secret("totp-pending:7") is None
    assert totp.pending_secret("totp-pending:7", 600)[1] is True
