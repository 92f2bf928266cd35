"""Staff login checks: username + password, then a TOTP code (DESIGN §7).

Throttled like citizens' logins (idp.login.password), on counters of their own
(`staff-` prefix): a progressive delay, then a temporary lockout per username,
and a cap per IP. Wrong TOTP codes count as failures too, so the second factor
cannot be guessed either. An unknown username costs one argon2id verification,
like a known one.
"""

from __future__ import annotations

from enum import Enum

from sqlalchemy.orm import Session

from idp.helpdesk.staff import check_username, find_staff, spend_totp_code, totp_secret
from idp.login.password import verify_login_password
from idp.login.throttle import Throttle
from idp.provider import provider
from idp.security.totp import code_matches
from idp.store.models import StaffMember


class PasswordCheck(Enum):
    OK = "ok"
    REJECTED = "rejected"
    IP_LIMITED = "ip_limited"


STAFF = Throttle("staff-")


def check_password(session: Session, username: str, password: str, ip: str | None
                   ) -> tuple[PasswordCheck, StaffMember | None, str]:
    """Check the first factor; returns the outcome, the staff member on OK, and a reason
    for the audit log (never shown to the user)."""
    p = provider()
    if p.state.incr(f"staff-login-ip:{ip}", 3600) > p.settings.login.ip_attempts_per_hour:
        return PasswordCheck.IP_LIMITED, None, "ip_limit"
    staff = find_staff(session, username) if check_username(username) else None
    is_throttled = STAFF.throttled(username)
    reason = verify_login_password(
        session, staff, password, throttled=is_throttled, status_prefix="staff"
    )
    if reason != "ok":
        if not is_throttled:
            STAFF.record_failure(username)
        return PasswordCheck.REJECTED, None, reason
    return PasswordCheck.OK, staff, "ok"


def check_totp(staff: StaffMember, code: str) -> tuple[bool, str]:
    """Check the second factor: 30-s TOTP, one step of clock drift either side, and a code
    once used is spent (a shoulder-surfed or replayed code is refused)."""
    if STAFF.throttled(staff.username):
        return False, "throttled"
    ok = code_matches(totp_secret(staff), code)
    if ok and not spend_totp_code(staff, code):
        return False, "totp_replayed"
    if not ok:
        STAFF.record_failure(staff.username)
        return False, "bad_totp"
    return True, "ok"
