"""The password step: CCCD + password, with throttling, lockout and captcha (DESIGN §7).

Counters are keyed by the typed CCCD, not by account, so an unknown CCCD
is throttled and locked exactly like a real one; every refusal spends one
argon2id verification and gets the same answer, so neither the message nor
the timing says whether an account exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.audit import record_event
from idp.login.throttle import Throttle
from idp.provider import provider
from idp.store.models import Account


class PasswordOutcome(Enum):
    OK = "ok"
    REJECTED = "rejected"
    CAPTCHA_REQUIRED = "captcha_required"
    IP_LIMITED = "ip_limited"


@dataclass
class PasswordResult:
    outcome: PasswordOutcome
    account: Account | None = None


def captcha_required(cccd: str, ip: str | None) -> bool:
    """True when this CCCD or this IP failed often enough to need a captcha."""
    p = provider()
    threshold = p.settings.login.captcha_after_failures
    state = p.state
    return (
        state.count(f"login-fail:{cccd}") >= threshold
        or state.count(f"login-fail-ip:{ip}") >= threshold * 3
    )


CITIZENS = Throttle()


def record_login_failure(cccd: str, ip: str | None) -> None:
    """Count a failed login for this CCCD (and IP): progressive delay, then lockout."""
    CITIZENS.record_failure(cccd)
    provider().state.incr(f"login-fail-ip:{ip}", 3600)


def verify_login_password(
    session: Session, holder, password: str, *, throttled: bool, status_prefix: str
) -> str:
    """Check `password` against `holder` (an account or a staff member; None when the typed
    name is unknown). Returns "ok", or the reason to refuse (for the audit log, never shown).

    Every call spends one argon2id verification, whether or not the holder exists or is
    throttled, so neither the answer nor its timing says which. A right password under
    outdated hash parameters is rehashed (and committed).
    """
    p = provider()
    if holder is None:
        p.passwords.dummy_verify(password)
        valid = False
    else:
        valid = p.passwords.verify(holder.password_hash, password)
    if holder is not None and holder.status != "active":
        return f"{status_prefix}_{holder.status}"
    if throttled:
        return "throttled"
    if not valid:
        return "bad_credentials"
    if p.passwords.needs_rehash(holder.password_hash):
        holder.password_hash = p.passwords.hash(password)
        session.commit()
    return "ok"


def check_password_login(
    session: Session, cccd: str, password: str, *, ip: str | None, captcha_ok: bool
) -> PasswordResult:
    """Check CCCD + password; on OK the account is returned and its failures forgiven."""
    p = provider()
    if p.state.incr(f"login-ip:{ip}", 3600) > p.settings.login.ip_attempts_per_hour:
        record_event("login.password", "refused", reason="ip_limit")
        return PasswordResult(PasswordOutcome.IP_LIMITED)
    if not captcha_ok and captcha_required(cccd, ip):
        return PasswordResult(PasswordOutcome.CAPTCHA_REQUIRED)

    account = session.scalar(select(Account).where(Account.cccd == cccd))
    throttled = CITIZENS.throttled(cccd)
    reason = verify_login_password(
        session, account, password, throttled=throttled, status_prefix="account"
    )
    if reason != "ok":
        if not throttled:
            record_login_failure(cccd, ip)
        record_event(
            "login.password", "failure", account_id=account.id if account else None, reason=reason
        )
        return PasswordResult(PasswordOutcome.REJECTED)

    CITIZENS.forgive(cccd)
    record_event("login.password", "success", account_id=account.id)
    return PasswordResult(PasswordOutcome.OK, account)
