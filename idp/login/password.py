"""The password step: CCCD + password behind the owner-first throttle (DESIGN §7).

The throttle answers before the password is looked at, keyed by the typed CCCD whether or
not an account has it; a password that is checked always costs one argon2id verification,
so neither the answer nor its timing says whether an account exists or whether a password
was right while the throttle holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.audit import record_event
from idp.login.throttle import CITIZENS, Gate, GateAnswer
from idp.provider import provider
from idp.store.models import Account


@dataclass
class PasswordResult:
    gate: GateAnswer
    """OPEN when the password was checked; otherwise why it was not."""
    account: Account | None = None
    """The account, when the password was right."""

    @property
    def ok(self) -> bool:
        return self.account is not None


def verify_login_password(session: Session, holder, password: str, *, status_prefix: str) -> str:
    """Check `password` against `holder` (an account or a staff member; None when the typed
    name is unknown). Returns "ok", or the reason to refuse (for the audit log, never shown).

    Every call spends one argon2id verification, whether or not the holder exists, so
    neither the answer nor its timing says which. A right password under outdated hash
    parameters is rehashed (and committed).
    """
    p = provider()
    if holder is None:
        p.passwords.dummy_verify(password)
        valid = False
    else:
        valid = p.passwords.verify(holder.password_hash, password)
    if holder is not None and holder.status != "active":
        return f"{status_prefix}_{holder.status}"
    if not valid:
        return "bad_credentials"
    if p.passwords.needs_rehash(holder.password_hash):
        holder.password_hash = p.passwords.hash(password)
        session.commit()
    return "ok"


def check_password_login(
    session: Session, cccd: str, password: str, *, ip: str | None, captcha_ok: bool
) -> PasswordResult:
    """Check CCCD + password if the throttle lets this browser try now."""
    answer = CITIZENS.check(cccd, ip, captcha_ok=captcha_ok)
    if answer.gate is not Gate.OPEN:
        if answer.gate is not Gate.CAPTCHA:
            record_event("login.password", "refused", reason=answer.gate.value)
        return PasswordResult(answer)
    account = session.scalar(select(Account).where(Account.cccd_is(cccd)))
    reason = verify_login_password(session, account, password, status_prefix="account")
    if reason != "ok":
        CITIZENS.record_failure(cccd, ip)
        record_event(
            "login.password", "failure", account_id=account.id if account else None, reason=reason
        )
        return PasswordResult(answer)
    record_event("login.password", "success", account_id=account.id)
    return PasswordResult(answer, account)
