"""What a citizen may change about their own account, and the rules around each change.

Sensitive changes need a recent authentication; every change is audited and the
citizen's OTP phone gets a notice, so a change they did not make is noticed.
Views call these functions; tests call them too, without HTTP.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from connectors.base import ConnectorUnavailable
from idp.accounts import change_password
from idp.audit import record_event
from idp.oidc.backchannel import notify_portals
from idp.oidc.claims import SCOPES
from idp.oidc.grants import revoke_grant
from idp.provider import provider
from idp.security.passwords import check_password_policy, password_user_inputs
from idp.sessions import SsoSession, account_sessions, end_session, session_handle
from idp.store.models import Account, Client, Consent, OtpPhone, RefreshToken
from idp.vntime import clock_time

log = logging.getLogger(__name__)

DAY = 24 * 3600
RECENT_AUTH_SECONDS = 600
"""Sensitive changes need a login at most this old (10 minutes)."""
"""Wrong current passwords on the change form before it refuses for an hour."""
EMAIL_LINK_TTL = DAY
HOTLINE = "Nếu không phải bạn thực hiện, hãy gọi ngay tổng đài 18001096."

WRONG_CURRENT = "Mật khẩu hiện tại không đúng."
TOO_MANY_TRIES = ("Bạn đã nhập sai mật khẩu hiện tại quá nhiều lần. Vui lòng thử lại sau "
                  "{until}.")
"""Formatted with the time the limit's window ends ("account.password_checks" may be set to
any window)."""


def is_recent(session: SsoSession, max_age: int = RECENT_AUTH_SECONDS) -> bool:
    """Whether the session's last authentication is recent enough for a sensitive change
    (or, with `max_age`, another sensitive step)."""
    return time.time() - session.auth_time <= max_age


def notify_phone(phone: OtpPhone | str | None, text: str) -> None:
    """Send a notice SMS; a gateway failure never undoes the change it reports."""
    number = phone.phone if isinstance(phone, OtpPhone) else phone
    if not number:
        return
    try:
        provider().sms.send(number, f"{text} {HOTLINE}")
    except ConnectorUnavailable as exc:
        log.warning("notice SMS not sent: %s", exc)


# --- sessions ----------------------------------------------------------------------------


def _end_and_notify(sid: str) -> bool:
    ended = end_session(sid)
    if ended is None:
        return False
    notify_portals(ended)
    return True


def end_session_by_handle(account_id: int, handle: str) -> bool:
    """End one of the account's own sessions (and tell its portals)."""
    for session in account_sessions(account_id):
        # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError).
        if hmac.compare_digest(session_handle(session.sid).encode(), handle.encode()):
            ended = _end_and_notify(session.sid)
            record_event("logout", "success" if ended else "failure", account_id=account_id,
                         scope="one")
            return ended
    return False


def end_other_sessions(account_id: int, keep_sid: str | None) -> int:
    """End every session of the account except `keep_sid`; returns how many ended."""
    return sum(_end_and_notify(session.sid) for session in account_sessions(account_id)
               if session.sid != keep_sid)


def end_all_sessions(account_id: int) -> int:
    """"Log out everywhere": every session of the account, this browser's included."""
    count = end_other_sessions(account_id, None)
    record_event("logout", "success", account_id=account_id, scope="all", sessions=count)
    return count


# --- password ----------------------------------------------------------------------------


def change_own_password(account: Account, current: str, new: str, confirm: str,
                        keep_sid: str) -> list[str]:
    """Check and set a new password; returns the problems (empty when it was changed).

    Refresh tokens are revoked and every other session ends; this browser's stays.
    """
    p = provider()
    if p.limits.spent("account.password_checks", account.id):
        until = p.limits.resets_at("account.password_checks", account.id)
        return [TOO_MANY_TRIES.format(until=clock_time(until))]
    if not p.passwords.verify(account.password_hash, current):
        p.limits.hit("account.password_checks", account.id)
        record_event("password.change", "failure", account_id=account.id, reason="wrong_current")
        return [WRONG_CURRENT]
    default = account.default_phone
    problems = check_password_policy(
        new,
        password_user_inputs(account.full_name, account.cccd, account.birthdate,
                             default.phone if default else None),
        min_score=p.settings.passwords.min_zxcvbn_score,
    )
    if new == current:
        problems.append("Mật khẩu mới phải khác mật khẩu hiện tại.")
    if new != confirm:
        problems.append("Mật khẩu nhập lại không khớp.")
    if problems:
        record_event("password.change", "refused", account_id=account.id, reason="policy")
        return problems
    families = change_password(p.db.session, account, new, p.passwords)
    for family in families:
        revoke_grant(family, "password changed")
    ended = end_other_sessions(account.id, keep_sid)
    p.limits.clear("account.password_checks", account.id)
    record_event("password.change", "success", account_id=account.id,
                 revoked_families=len(families), ended_sessions=ended)
    notify_phone(default, "Mật khẩu tài khoản định danh của bạn vừa được thay đổi.")
    return []


# --- contact e-mail ----------------------------------------------------------------------


def send_email_link(account: Account, email: str, link_base: str) -> None:
    """E-mail a single-use link that proves the address belongs to the citizen."""
    token = secrets.token_urlsafe(32)
    provider().state.put(f"email-verify:{token}", {"a": account.id, "e": email}, EMAIL_LINK_TTL)
    provider().email.send(
        email,
        "Xác nhận thư điện tử liên hệ của tài khoản định danh",
        "Xin chào,\n\nĐể xác nhận địa chỉ này là thư điện tử liên hệ của tài khoản định danh "
        f"trên Cổng Dịch vụ công Quốc gia, vui lòng mở liên kết sau (dùng được một lần, "
        f"hiệu lực 24 giờ):\n{link_base}?token={token}\n\n"
        "Nếu bạn không yêu cầu, hãy bỏ qua thư này.",
    )
    record_event("email.verify_sent", "success", account_id=account.id)


def email_link_valid(token: str) -> bool:
    """Whether a link is still unused (shown before the citizen confirms it)."""
    return 0 < len(token) <= 64 and provider().state.get(f"email-verify:{token}") is not None


def confirm_email(token: str) -> Account | None:
    """Use a link once: the address becomes the account's verified contact e-mail."""
    p = provider()
    record = p.state.take(f"email-verify:{token}") if 0 < len(token) <= 64 else None
    account = p.db.session.get(Account, record["a"]) if record else None
    if account is None:
        record_event("email.verify", "refused", reason="invalid_link")
        return None
    account.email, account.email_verified = record["e"], True
    p.db.session.commit()
    record_event("email.verify", "success", account_id=account.id)
    notify_phone(account.default_phone,
                 "Thư điện tử liên hệ của tài khoản định danh vừa được xác nhận.")
    return account


# --- portals the citizen consented to ----------------------------------------------------


@dataclass
class ConsentView:
    client_id: str
    portal: str
    scopes: list[str]
    granted_at: datetime


def consents_of(account: Account) -> list[ConsentView]:
    """The portals the account allowed, with what each receives, in Vietnamese."""
    rows = provider().db.session.execute(
        select(Consent, Client.name).join(Client, Client.client_id == Consent.client_id)
        .where(Consent.account_id == account.id).order_by(Consent.granted_at)
    ).all()
    return [
        ConsentView(consent.client_id, name,
                    [SCOPES[scope][1] for scope in consent.scopes if scope in SCOPES],
                    consent.granted_at)
        for consent, name in rows
    ]


def revoke_consent(account: Account, client_id: str) -> bool:
    """Withdraw a portal's consent and kill its refresh tokens; it must ask again next time."""
    session = provider().db.session
    removed = session.execute(
        delete(Consent).where(Consent.account_id == account.id, Consent.client_id == client_id)
    ).rowcount
    families = list(session.scalars(
        select(RefreshToken.family_id).where(
            RefreshToken.account_id == account.id, RefreshToken.client_id == client_id,
            RefreshToken.revoked_at.is_(None),
        ).distinct()
    ))
    session.commit()
    for family in families:
        revoke_grant(family, "consent revoked")
    if removed:
        record_event("consent.revoke", "success", account_id=account.id, client_id=client_id,
                     revoked_families=len(families))
    return bool(removed)
