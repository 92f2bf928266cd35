"""Forgot-password rules: CCCD → OTP to the account's OTP phone → new password.

Nothing here may tell a known CCCD from an unknown one before the code is proven: an
unknown (or inactive) CCCD gets a reset that goes through the same steps with no code
sent, the attempt caps are counted before the account is looked up, and an SMS refused
by its limits goes on like an unknown CCCD. A finished reset ends every session (portals
are told), revokes every refresh token, and sends a notice SMS to the OTP phone.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from enum import Enum

from sqlalchemy import select

from idp.accounts import change_password
from idp.audit import record_event
from idp.oidc.backchannel import notify_portals
from idp.oidc.grants import revoke_grant
from idp.otp import CheckOutcome, check_otp, send_otp
from idp.provider import provider
from idp.security.passwords import check_password_policy, password_user_inputs
from idp.sessions import browser_record, end_account_sessions
from idp.store.models import Account

OTP_PURPOSE = "đặt lại mật khẩu"
RESET_NOTICE = ("Mật khẩu tài khoản định danh của bạn vừa được đặt lại. Nếu không phải bạn "
                "thực hiện, hãy gọi ngay tổng đài 18001096.")


class TooManyResetAttempts(Exception):
    """The IP or the CCCD started too many resets this hour."""


@dataclass
class PasswordReset:
    """One forgot-password attempt, kept in the state store until it ends."""

    id: str
    browser: str
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


def _save(reset: PasswordReset) -> None:
    ttl = provider().settings.registration.ttl
    provider().state.put(f"fp:{reset.id}", asdict(reset),
                         max(1, reset.created + ttl - time.time()))


def load_password_reset(reset_id: str, browser: str) -> PasswordReset | None:
    """The reset, if it exists and was started in this browser."""
    data = browser_record("fp", reset_id, browser)
    return PasswordReset(**data) if data is not None else None


def _send_code(reset: PasswordReset, ip: str | None) -> None:
    account = provider().db.session.get(Account, reset.account_id or 0)
    if account is not None and account.default_phone is not None:
        # Whatever the SMS limits answer, go on as for an unknown CCCD (which never gets a
        # code); a refusal is in the audit trail (otp.send refused).
        send_otp(reset.otp_id, account.default_phone.phone, purpose=OTP_PURPOSE, ip=ip,
                 account_id=account.id)


def start_password_reset(cccd: str, browser: str, ip: str | None) -> PasswordReset:
    """Start a reset for a valid CCCD and send its code if the account exists and is active;
    raises TooManyResetAttempts past the hourly caps per IP and per CCCD."""
    p = provider()
    cfg = p.settings.registration
    # Both caps are counted before the account is looked up, so they answer alike for
    # known and unknown CCCDs.
    if (p.state.incr(f"fp-ip:{ip}", 3600) > cfg.attempts_per_ip_per_hour
            or p.state.incr(f"fp-cccd:{cccd}", 3600) > cfg.attempts_per_cccd_per_hour):
        raise TooManyResetAttempts
    account = p.db.session.scalar(select(Account).where(Account.cccd == cccd))
    active = account is not None and account.status == "active"
    reset = PasswordReset(id=secrets.token_urlsafe(24), browser=browser,
                          account_id=account.id if active else None)
    _save(reset)
    _send_code(reset, ip)
    record_event("password.reset_start", "success", account_id=reset.account_id,
                 known=reset.account_id is not None)
    return reset


def resend_reset_code(reset: PasswordReset, ip: str | None) -> None:
    """A new code, within the OTP resend rules (nothing is sent for an unknown CCCD)."""
    _send_code(reset, ip)


def check_reset_code(reset: PasswordReset, code: str) -> tuple[CodeCheck, int]:
    """Check a typed code: the outcome and the tries left."""
    result = check_otp(reset.otp_id, code)
    if result.outcome is CheckOutcome.OK and reset.account_id is not None:
        reset.proven = True
        _save(reset)
        return CodeCheck.PROVEN, result.tries_left
    # No code (unknown CCCD) reports EXPIRED, not EXHAUSTED, on the last try: end both alike.
    if result.outcome is CheckOutcome.EXHAUSTED or (
            result.outcome is CheckOutcome.EXPIRED and result.tries_left <= 0):
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
