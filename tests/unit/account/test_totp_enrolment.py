"""idp/account/totp.py: adding an authenticator app from the console (a pending secret, a
first code, a cap on wrong ones) and removing it, called directly."""

from __future__ import annotations

import time

import pyotp
import pytest

from idp.account import totp as app_totp
from idp.security.sealed import unseal
from idp.security.totp import ACCOUNT_PURPOSE, verify_account_code
from idp.store.models import Account
from tests.unit.service_app import sms_to

STEP = 30


@pytest.fixture
def account(provider, make_account) -> Account:
    account_id, _person = make_account()
    return provider.db.session.get(Account, account_id)


def code_at(secret: str, steps: int = 0) -> str:
    while time.time() % STEP > STEP - 0.2:  # the step would change before the check
        time.sleep(0.05)
    return pyotp.TOTP(secret).at(time.time() + steps * STEP)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_wrong_first_code_enrols_nothing(account):
    secret = app_totp.pending_secret(account)
    assert "không đúng" in app_totp.confirm_enrolment(account, wrong(code_at(secret)))
    assert account.totp_secret is None


def test_the_right_first_code_enrols_the_secret_sealed_and_cannot_log_in_again(provider,
                                                                              account):
    secret = app_totp.pending_secret(account)
    code = code_at(secret)
    assert app_totp.confirm_enrolment(account, code) is None
    assert secret not in account.totp_secret
    assert unseal(account.totp_secret, ACCOUNT_PURPOSE) == secret
    assert not verify_account_code(account, code)  # the code typed to enrol is spent
    assert verify_account_code(account, code_at(secret, 1))
    assert "vừa được đăng ký" in sms_to(provider, account.default_phone.phone)[-1]


def test_after_five_wrong_codes_the_qr_code_is_dropped_for_a_new_one(account):
    secret = app_totp.pending_secret(account)
    bad = wrong(code_at(secret))
    for _ in range(5):
        app_totp.confirm_enrolment(account, bad)
    assert "quá số lần" in app_totp.confirm_enrolment(account, code_at(secret))
    assert account.totp_secret is None
    fresh = app_totp.pending_secret(account)
    assert fresh != secret
    assert app_totp.confirm_enrolment(account, code_at(fresh)) is None  # tries are whole again


def test_a_removed_app_accepts_no_more_codes(account):
    secret = app_totp.pending_secret(account)
    app_totp.confirm_enrolment(account, code_at(secret))
    app_totp.remove(account)
    assert account.totp_secret is None
    assert not verify_account_code(account, code_at(secret, 1))
