"""Staff login checks: username + password, then a TOTP code (DESIGN §7).

Throttled like citizens' logins (idp.login.throttle), on limits of their own
(staff.*): a browser the member logged in from is counted on its own; every other
browser shares a count per username that brings a growing wait and then a pause, and a
cap per network address. Wrong TOTP codes count as failures too, so the second factor
cannot be guessed either. An unknown username costs one argon2id verification, like a
known one.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from idp.helpdesk.staff import check_username, find_staff, spend_totp_code, totp_secret
from idp.login.password import verify_login_password
from idp.login.throttle import STAFF, Gate, GateAnswer
from idp.security.totp import code_matches
from idp.store.models import StaffMember


def check_password(session: Session, username: str, password: str, ip: str | None
                   ) -> tuple[GateAnswer, StaffMember | None, str]:
    """Check the first factor; returns the throttle's answer, the staff member when the
    password was right, and a reason for the audit log (never shown to the user)."""
    # Staff pages have no captcha: the waits and the pause do its work.
    answer = STAFF.check(username, ip, captcha_ok=True)
    if answer.gate is not Gate.OPEN:
        return answer, None, answer.gate.value
    staff = find_staff(session, username) if check_username(username) else None
    reason = verify_login_password(session, staff, password, status_prefix="staff")
    if reason != "ok":
        STAFF.record_failure(username, ip)
        return answer, None, reason
    return answer, staff, "ok"


def check_totp(staff: StaffMember, code: str, ip: str | None) -> tuple[bool, str]:
    """Check the second factor: 30-s TOTP, one step of clock drift either side, and a code
    once used is spent (a shoulder-surfed or replayed code is refused)."""
    if STAFF.check(staff.username, ip, captcha_ok=True).gate is not Gate.OPEN:
        return False, "throttled"
    ok = code_matches(totp_secret(staff), code)
    if ok and not spend_totp_code(staff, code):
        return False, "totp_replayed"
    if not ok:
        STAFF.record_failure(staff.username, ip)
        return False, "bad_totp"
    return True, "ok"
