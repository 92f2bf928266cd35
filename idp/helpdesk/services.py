"""Helpdesk actions on citizen accounts: find, view (masked), unlock, suspend, complaints.

Each action checks its input, changes the account and leaves one audit row naming
the staff member, their role, the account and the reason. Views call these; tests
call them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.helpdesk.auth import StaffContext, staff_event
from idp.login.throttle import CITIZENS
from idp.oidc.backchannel import notify_portals
from idp.sessions import end_account_sessions
from idp.store.models import (
    Account,
    AuditEvent,
    Complaint,
    PhoneResetRequest,
    utcnow,
)
from vnid.person import InvalidField, mask_cccd, mask_phone, validate_cccd

RECENT_EVENTS = 20
OPEN_RESET_STATES = ("awaiting_otp", "awaiting_approval")


class ActionRefused(ValueError):
    """The action cannot be done as asked; the message is Vietnamese, for the staff member."""


def clean_reason(text: str) -> str:
    """The reason a staff member gives: required, 5–500 characters."""
    reason = " ".join(text.split())
    if not 5 <= len(reason) <= 500:
        raise ActionRefused("Vui lòng ghi lý do (từ 5 đến 500 ký tự).")
    return reason


@dataclass(frozen=True)
class PhoneLine:
    masked: str
    is_default: bool


@dataclass(frozen=True)
class AccountView:
    """What staff see of an account: masked identifiers, state, recent security events."""

    id: int
    cccd: str
    full_name: str
    birthdate: date
    gender: str
    status: str
    ial: int
    verified_by: str
    created_at: datetime
    phones: list[PhoneLine]
    locked: bool
    failures: int
    open_reset: PhoneResetRequest | None
    events: list[AuditEvent]


def find_account(session: Session, staff: StaffContext, cccd: str) -> Account | None:
    """Look up an account by its exact CCCD (no partial search: no browsing of citizens)."""
    try:
        cccd = validate_cccd(cccd)
    except InvalidField as exc:
        raise ActionRefused(exc.message) from None
    account = session.scalar(select(Account).where(Account.cccd_is(cccd)))
    staff_event("staff.search", "success" if account else "not_found", staff, "search",
                account_id=account.id if account else None, cccd=mask_cccd(cccd))
    return account


def lock_state(cccd: str) -> tuple[bool, int]:
    """Whether logins for this CCCD are locked out, and the failures counted so far."""
    return CITIZENS.paused(cccd), CITIZENS.failures_counted(cccd)


def view_account(session: Session, staff: StaffContext, account_id: int) -> AccountView | None:
    """The masked profile; the viewing itself is audited (staff read personal data)."""
    account = session.get(Account, account_id)
    # The helpdesk serves citizens; an organisation's account (no CCCD) is not its to see.
    if account is None or account.cccd is None:
        return None
    locked, failures = lock_state(account.cccd)
    events = list(session.scalars(
        select(AuditEvent).where(AuditEvent.account_id == account.id)
        .order_by(AuditEvent.id.desc()).limit(RECENT_EVENTS)))
    open_reset = session.scalar(select(PhoneResetRequest).where(
        PhoneResetRequest.account_id == account.id,
        PhoneResetRequest.status.in_(OPEN_RESET_STATES)))
    staff_event("staff.view_account", "success", staff, "search", account_id=account.id)
    return AccountView(
        id=account.id, cccd=mask_cccd(account.cccd), full_name=account.full_name,
        birthdate=account.birthdate, gender=account.gender, status=account.status,
        ial=account.ial, verified_by=account.verified_by, created_at=account.created_at,
        phones=[PhoneLine(mask_phone(p.phone), p is account.default_phone)
                for p in account.phones],
        locked=locked, failures=failures, open_reset=open_reset, events=events,
    )


def unlock_account(staff: StaffContext, account: Account, reason: str) -> bool:
    """Clear the login lockout and failure count; returns whether it was locked."""
    reason = clean_reason(reason)
    locked, failures = lock_state(account.cccd)
    CITIZENS.lift(account.cccd)
    staff_event("staff.unlock", "success", staff, "unlock", account_id=account.id,
                reason=reason, was_locked=locked, failures=failures)
    return locked


def set_suspended(session: Session, staff: StaffContext, account: Account, reason: str,
                  suspended: bool) -> None:
    """Suspend (no login, no token refresh, every session ended) or reactivate."""
    reason = clean_reason(reason)
    wanted = "suspended" if suspended else "active"
    event = "staff.suspend" if suspended else "staff.reactivate"
    if account.status == wanted:
        raise ActionRefused("Tài khoản đã ở trạng thái này.")
    account.status = wanted
    session.commit()
    ended = end_account_sessions(account.id) if suspended else []
    for sso in ended:
        notify_portals(sso)
    staff_event(event, "success", staff, "suspend", account_id=account.id, reason=reason,
                sessions_ended=len(ended))


def open_complaints(session: Session) -> list[Complaint]:
    return list(session.scalars(
        select(Complaint).where(Complaint.status == "open").order_by(Complaint.id)))


def complaint_account_id(session: Session, complaint: Complaint) -> int | None:
    """The account the complaint is about: the one whose login its owner reported, or the
    one registered with the complaint's CCCD (the one the citizen disputes)."""
    if complaint.account_id is not None:
        return complaint.account_id
    return session.scalar(select(Account.id).where(Account.cccd_is(complaint.cccd)))


def handle_complaint(session: Session, staff: StaffContext, complaint: Complaint,
                     resolution: str) -> None:
    """Close a complaint with what was done; a complaint is closed once, by one member."""
    resolution = " ".join(resolution.split())
    if not 5 <= len(resolution) <= 2000:
        raise ActionRefused("Vui lòng ghi kết quả xử lý (từ 5 đến 2000 ký tự).")
    closed = session.execute(
        update(Complaint).where(Complaint.id == complaint.id, Complaint.status == "open")
        .values(status="handled", handled_by=staff.actor, resolution=resolution,
                handled_at=utcnow()))
    session.commit()
    if closed.rowcount != 1:
        raise ActionRefused("Khiếu nại này đã được xử lý.")
    staff_event("staff.complaint_handle", "success", staff, "complaints",
                account_id=complaint_account_id(session, complaint), complaint=complaint.id,
                reason=resolution)
