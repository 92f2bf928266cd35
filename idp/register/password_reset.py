"""Forgot-password rules: CCCD → OTP to the account's OTP phone → new password.

Nothing here may tell a known CCCD from an unknown one before the code is proven: an
unknown (or inactive) CCCD gets a reset that goes through the same steps with no code
sent, and in the same time (codes go out through the SMS queue, after the answer); the
attempt cap is counted before the account is looked up, and an SMS refused by its limits
goes on like an unknown CCCD. Codes sent here count against their own limit
(sms.reset.cccd), never against the login's, so a stranger asking for resets cannot keep
the owner from logging in. A finished reset ends every session (portals are told),
revokes every refresh token, sends a notice SMS to the OTP phone, and makes this browser
one the owner logged in from (they proved the phone and chose the password).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from enum import Enum

from sqlalchemy import select

from idp.accounts import change_password
from idp.audit import record_event
from idp.login.devices import remember_device
from idp.login.throttle import CITIZENS
from idp.oidc.backchannel import notify_portals
from idp.oidc.grants import revoke_grant
from idp.otp.codes import RESET, Challenge, CheckOutcome, check_code, send_code
from idp.otp.queue import job_handler, sms_queue
from idp.provider import provider
from idp.security.passwords import check_password_policy, password_user_inputs
from idp.sessions import browser_record, end_account_sessions
from idp.store.models import Account

RESET_NOTICE = ("Mật khẩu tài khoản định danh của bạn vừa được đặt lại. Nếu không phải bạn "
                "thực hiện, hãy gọi ngay tổng đài 18001096.")


class TooManyResetAttempts(Exception):
    """This network address started too many resets; `until` is when it may again."""

    def __init__(self, until: float) -> None:
        super().__init__(until)
        self.until = until


@dataclass
class PasswordReset:
    """One forgot-password attempt, kept in the state store until it ends."""

    id: str
    browser: str
    cccd: str
    account_id: int | None
    """None for an unknown or inactive CCCD: the steps look the same, no code is ever sent."""
    proven: bool = False
    """The OTP sent to the account's phone was typed correctly."""
    created: float = field(default_factory=time.time)

    @property
    def otp_id(self) -> str:
        return f"fp-{self.id}"


class CodeCheck(Enum):
    PROVEN = "proven"
    WRONG = "wrong"
    """Wrong, expired or never sent (unknown CCCD): the same answer for all three."""
    ENDED = "ended"
    """No tries left: the reset is over."""


def save_password_reset(reset: PasswordReset) -> None:
    """Keep the reset for the rest of its lifetime."""
    ttl = provider().settings.registration.ttl
    provider().state.put(f"fp:{reset.id}", asdict(reset),
                         max(1, reset.created + ttl - time.time()))


def load_password_reset(reset_id: str, browser: str) -> PasswordReset | None:
    """The reset, if it exists and was started in this browser."""
    data = browser_record("fp", reset_id, browser)
    return PasswordReset(**data) if data is not None else None


def reset_phone(reset: PasswordReset) -> str | None:
    """Where the code goes: the account's default OTP phone (None for an unknown CCCD)."""
    account = provider().db.session.get(Account, reset.account_id or 0)
    phone = account.default_phone if account is not None else None
    return phone.phone if phone is not None else None


def queue_reset_code(reset: PasswordReset, ip: str | None) -> None:
    """Have the code of this reset sent after the answer, for a known CCCD and an unknown
    one alike: the request does the same work for both (the phone lookup, the code and the
    gateway call happen in the SMS queue's drain, `send_reset_code`)."""
    # The device is read here, from this browser's cookie: each browser the owner logged in
    # from has its own count.
    sms_queue().enqueue("reset_code", reset=reset.id, ip=ip,
                        device=CITIZENS.known_device(reset.cccd))


@job_handler("reset_code")
def send_reset_code(job: dict) -> None:
    """The queued half of `queue_reset_code`: send the code, if the reset has an account
    with an OTP phone (none goes out for an unknown CCCD)."""
    data = provider().state.get(f"fp:{job['reset']}")
    reset = PasswordReset(**data) if data is not None else None
    phone = reset_phone(reset) if reset is not None else None
    if reset is None or phone is None:
        return
    send_code(Challenge(reset.otp_id, RESET, account_id=reset.account_id, cccd=reset.cccd,
                        ip=job["ip"], device=job["device"]), phone)


def start_password_reset(cccd: str, browser: str, ip: str | None) -> PasswordReset:
    """Start a reset for a valid CCCD; the caller sends its code (`reset_phone`). Raises
    TooManyResetAttempts past the hourly cap of this network address."""
    p = provider()
    # Counted before the account is looked up, so it answers alike for every CCCD.
    if not p.limits.hit("reset.starts.address", ip):
        raise TooManyResetAttempts(p.limits.resets_at("reset.starts.address", ip))
    account = p.db.session.scalar(select(Account).where(Account.cccd_is(cccd)))
    active = account is not None and account.status == "active"
    reset = PasswordReset(id=secrets.token_urlsafe(24), browser=browser, cccd=cccd,
                          account_id=account.id if active else None)
    save_password_reset(reset)
    record_event("password.reset_start", "success", account_id=reset.account_id,
                 known=reset.account_id is not None)
    return reset


def check_reset_code(reset: PasswordReset, code: str) -> tuple[CodeCheck, int]:
    """Check a typed code: the outcome and the tries left."""
    result = check_code(reset.otp_id, code)
    if result.outcome is CheckOutcome.OK and reset.account_id is not None:
        reset.proven = True
        save_password_reset(reset)
        return CodeCheck.PROVEN, result.tries_left
    if result.outcome is CheckOutcome.EXHAUSTED:
        provider().state.delete(f"fp:{reset.id}")
        return CodeCheck.ENDED, 0
    return CodeCheck.WRONG, max(result.tries_left, 0)


def new_password_problems(reset: PasswordReset, secret: str, confirm: str) -> list[str]:
    """What is wrong with the new password (Vietnamese), judged with the account's own data."""
    p = provider()
    account = p.db.session.get(Account, reset.account_id)
    problems = check_password_policy(
        secret,
        password_user_inputs(account.full_name, account.cccd, account.birthdate,
                             account.default_phone.phone if account.default_phone else None),
        min_score=p.settings.passwords.min_zxcvbn_score,
    )
    if secret != confirm:
        problems.append("Mật khẩu nhập lại không khớp.")
    if not problems and p.passwords.verify(account.password_hash, secret):
        problems.append("Mật khẩu mới phải khác mật khẩu đang dùng. Nếu bạn vẫn nhớ mật khẩu "
                        "này, hãy dùng nó để đăng nhập.")
    return problems


def finish_password_reset(reset: PasswordReset, secret: str) -> None:
    """Set the new password of a proven reset; end every session and refresh token."""
    p = provider()
    account = p.db.session.get(Account, reset.account_id)
    families = change_password(p.db.session, account, secret, p.passwords)
    for family in families:
        revoke_grant(family, "password reset")
    for ended in end_account_sessions(account.id):
        notify_portals(ended)
    p.state.delete(f"fp:{reset.id}")
    if account.default_phone is not None:
        p.sms.send(account.default_phone.phone, RESET_NOTICE)
    record_event("password.reset", "success", account_id=account.id,
                 revoked_families=len(families))
    CITIZENS.forgive_device(account.cccd)
    remember_device(CITIZENS.realm, account.cccd)
