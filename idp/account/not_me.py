""""Không phải tôi": the citizen reports a login in their access history as not theirs.

The report ends the session that login started (its portals get a back-channel logout),
revokes the refresh tokens issued from it, files a complaint the helpdesk sees with the
login's details, and asks the citizen to change their password (the console says so
until they do). It is reached two ways:

- from the access history, by the logged-in citizen (a CSRF-protected form);
- from the link in the new-browser notice (SMS or e-mail), without logging in: the
  owner's password may be what the stranger used. That link is signed, names one login
  of one account and expires; it only shows a confirmation page, the report is a POST.
  So whoever can trigger it holds the notice, and the most it does is end that one
  login's session: no one can log the owner out of anything else with it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from idp.account.history import LOGIN_EVENTS, METHODS, describe_device, portal_names
from idp.account.services import end_session_by_handle
from idp.audit import record_event
from idp.oidc.grants import revoke_grant
from idp.provider import provider
from idp.store.models import Account, AuditEvent, Complaint, RefreshToken
from idp.vntime import vietnam_time

LINK_DAYS = 7
"""How long the link in a login notice works: a citizen may read an SMS days later."""


@dataclass
class NotMeReport:
    complaint_id: int
    sessions_ended: int
    families_revoked: int
    already_reported: bool = False


def reportable_login(account_id: int, event_id: int) -> AuditEvent | None:
    """The account's own successful login with this audit id, or None."""
    row = provider().db.session.get(AuditEvent, event_id)
    if (row is None or row.account_id != account_id or row.event not in LOGIN_EVENTS
            or row.result != "success"):
        return None
    return row


def login_summary(row: AuditEvent) -> dict:
    """What a citizen and the helpdesk are shown of a login, in Vietnamese."""
    method = (row.detail or {}).get("method", "")
    portal = portal_names({row.client_id or ""}).get(row.client_id or "", row.client_id)
    return {"event_id": row.id, "at": vietnam_time(row.at), "ip": row.ip or "—",
            "device": describe_device(row.user_agent), "portal": portal or "—",
            "method": METHODS.get(method, method)}


def _families_from(row: AuditEvent) -> list[str]:
    """Live refresh-token families issued from this login's session (offline ones too)."""
    handle = (row.detail or {}).get("session")
    if not handle:
        return []
    return list(provider().db.session.scalars(
        select(RefreshToken.family_id).where(
            RefreshToken.account_id == row.account_id, RefreshToken.login_session == handle,
            RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > time.time())
        .distinct()))


def report_not_me(account: Account, row: AuditEvent, via: str) -> NotMeReport:
    """End the login's session, revoke its refresh tokens, file the complaint (once per
    login). `via` is `history` or `notice` (where the citizen pressed it)."""
    session = provider().db.session
    existing = session.scalar(select(Complaint).where(Complaint.event_id == row.id))
    if existing is not None:
        return NotMeReport(existing.id, 0, 0, already_reported=True)
    summary = login_summary(row)
    complaint = Complaint(
        kind="not_me", account_id=account.id, event_id=row.id, event=summary,
        cccd=account.cccd or "", full_name=account.full_name,
        phone=account.default_phone.phone if account.default_phone else "",
        email=account.email if account.email_verified else None,
        description=f"Chủ tài khoản báo lượt đăng nhập lúc {summary['at']} từ {summary['ip']} "
        f"({summary['device']}, {summary['portal']}) không phải của mình.",
    )
    session.add(complaint)
    try:
        session.commit()
    except IntegrityError:  # the same login reported twice at once: the first one counts
        session.rollback()
        existing = session.scalar(select(Complaint).where(Complaint.event_id == row.id))
        return NotMeReport(existing.id, 0, 0, already_reported=True)
    handle = (row.detail or {}).get("session")
    ended = 1 if handle and end_session_by_handle(account.id, handle) else 0
    families = _families_from(row)
    for family in families:
        revoke_grant(family, "not me")
    record_event("login.not_me", "success", account_id=account.id, client_id=row.client_id,
                 login_event=row.id, complaint=complaint.id, via=via, sessions_ended=ended,
                 revoked_families=len(families))
    return NotMeReport(complaint.id, ended, len(families))


def password_change_asked(account: Account) -> bool:
    """Whether the citizen reported a login as not theirs and has not changed the password
    since (the console asks them to)."""
    reported = provider().db.session.scalar(
        select(Complaint.created_at).where(Complaint.account_id == account.id,
                                           Complaint.kind == "not_me")
        .order_by(Complaint.id.desc()).limit(1))
    if reported is None:
        return False
    changed = account.password_changed_at
    # SQLite gives naive datetimes back; both columns hold UTC.
    return reported.replace(tzinfo=None) >= changed.replace(tzinfo=None)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(provider().settings.server.secret_key, salt="idp-not-me")


def notice_token(account_id: int, event_id: int) -> str:
    """The signed part of the "Không phải tôi" link of a login notice."""
    return _serializer().dumps([account_id, event_id])


def login_of_token(token: str) -> tuple[Account, AuditEvent] | None:
    """The account and login a notice link names, while the link is valid; else None."""
    if not token or len(token) > 200:
        return None
    try:
        account_id, event_id = _serializer().loads(token, max_age=LINK_DAYS * 24 * 3600)
    except (BadSignature, ValueError, TypeError):
        return None
    account = provider().db.session.get(Account, account_id)
    row = reportable_login(account_id, event_id) if account is not None else None
    return (account, row) if row is not None else None
