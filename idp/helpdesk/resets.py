"""Staff reset of a citizen's OTP phone (a lost phone), checked in person, with dual control.

1. The staff member records the reason, the document checked and the new phone: a
   PhoneResetRequest `awaiting_otp`. The partial unique index allows one open request
   per account, so of two concurrent resets only one is stored.
2. An OTP goes to the new phone; the citizen, at the desk, reads it out.
3. The carrier says whether the new phone is registered to this citizen. If it is, the
   phone changes at once. If not, the request waits for a supervisor other than the
   requester (`awaiting_approval`), who approves or rejects. A carrier that does not
   answer is retried, never taken as a "no".
4. The change replaces the default OTP phone, tells the old phone by SMS and ends every
   session of the account (portals are told by back-channel logout).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.base import ConnectorUnavailable, PersonQuery
from idp.accounts import replace_default_phone
from idp.audit import record_event
from idp.helpdesk.auth import StaffContext, ensure, staff_event
from idp.helpdesk.evidence import InvalidEvidence, check_evidence, mask_number
from idp.helpdesk.services import OPEN_RESET_STATES, ActionRefused, clean_reason
from idp.oidc.backchannel import notify_portals
from idp.otp import codes
from idp.otp.codes import HELPDESK, Challenge, CheckOutcome, check_code
from idp.provider import provider
from idp.sessions import end_account_sessions
from idp.store.models import Account, PhoneResetRequest, utcnow
from vnid.person import InvalidField, mask_phone, normalize_phone

log = logging.getLogger(__name__)

BUSY = "Đang có một yêu cầu đổi số điện thoại khác cho tài khoản này."
DECIDED = "Yêu cầu này đã được xử lý hoặc không còn ở bước này."
SAME_STAFF = "Người phê duyệt phải là một cán bộ giám sát khác với người tạo yêu cầu."
NOT_REQUESTER = "Chỉ cán bộ tạo yêu cầu mới thực hiện được bước này (công dân có mặt tại quầy)."
OLD_PHONE_NOTICE = (
    "Số điện thoại nhận mã OTP của tài khoản định danh của bạn đã được đổi sang số {new} "
    "tại bộ phận hỗ trợ. Nếu không phải bạn yêu cầu, hãy gọi ngay tổng đài 18001096."
)


class ResetBusy(ActionRefused):
    """Another reset of this account is open (at most one at a time)."""


class Step(Enum):
    CODE_SENT = "code_sent"
    NOT_SENT = "not_sent"
    WRONG_CODE = "wrong_code"
    EXHAUSTED = "exhausted"
    CARRIER_UNAVAILABLE = "carrier_unavailable"
    AWAITING_APPROVAL = "awaiting_approval"
    DONE = "done"


@dataclass(frozen=True)
class StepResult:
    step: Step
    message: str = ""


def otp_id(reset: PhoneResetRequest) -> str:
    return f"staff-reset-{reset.id}"


def _otp_ok_key(reset: PhoneResetRequest) -> str:
    return f"staff-reset-otp-ok:{reset.id}"


def code_confirmed(reset: PhoneResetRequest) -> bool:
    """The OTP was typed right and only the carrier check is left (it was unavailable)."""
    return provider().state.get(_otp_ok_key(reset)) is not None


def _detail(reset: PhoneResetRequest) -> dict:
    """What each audit row of a reset repeats: the request, its reason and its evidence."""
    return {"request": reset.id, "reason": reset.reason, "evidence_type": reset.evidence_type,
            "evidence_number": mask_number(reset.evidence_number),
            "new_phone": mask_phone(reset.new_phone)}


def _age_seconds(moment: datetime) -> float:
    if moment.tzinfo is None:  # SQLite returns naive UTC
        moment = moment.replace(tzinfo=UTC)
    return (utcnow() - moment).total_seconds()


def open_reset(session: Session, account_id: int) -> PhoneResetRequest | None:
    return session.scalar(select(PhoneResetRequest).where(
        PhoneResetRequest.account_id == account_id,
        PhoneResetRequest.status.in_(OPEN_RESET_STATES)))


def pending_approvals(session: Session) -> list[PhoneResetRequest]:
    return list(session.scalars(select(PhoneResetRequest).where(
        PhoneResetRequest.status == "awaiting_approval").order_by(PhoneResetRequest.id)))


def _transition(session: Session, reset: PhoneResetRequest, current: str, **values) -> bool:
    """Move the request on only if it is still in `current`: of two concurrent decisions
    (approve and reject, a double click) exactly one wins. Not committed here."""
    moved = session.execute(
        update(PhoneResetRequest)
        .where(PhoneResetRequest.id == reset.id, PhoneResetRequest.status == current)
        .values(**values)
    ).rowcount == 1
    if not moved:
        session.rollback()
    return moved


def start_reset(session: Session, staff: StaffContext, account: Account, *, new_phone: str,
                reason: str, evidence_type: str, evidence_number: str) -> PhoneResetRequest:
    """Record the request (raises ActionRefused with the reason shown to staff)."""
    ensure(staff, "reset_phone")
    reason = clean_reason(reason)
    try:
        kind, number = check_evidence(evidence_type, evidence_number, account.cccd)
        phone = normalize_phone(new_phone)
    except (InvalidEvidence, InvalidField) as exc:
        raise ActionRefused(getattr(exc, "message", str(exc))) from None
    if account.default_phone is not None and account.default_phone.phone == phone:
        raise ActionRefused("Số điện thoại mới trùng với số đang nhận OTP của tài khoản.")
    stale = open_reset(session, account.id)
    # A code never typed (the citizen left) must not block the desk for ever.
    if (stale is not None and stale.status == "awaiting_otp"
            and _age_seconds(stale.created_at) > provider().settings.session.transaction_ttl):
        _transition(session, stale, "awaiting_otp", status="cancelled", decided_at=utcnow())
    reset = PhoneResetRequest(account_id=account.id, new_phone=phone, reason=reason,
                              evidence_type=kind, evidence_number=number,
                              requested_by=staff.id, status="awaiting_otp")
    session.add(reset)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        staff_event("staff.phone_reset.start", "refused", staff, "reset_phone",
                    account_id=account.id, reason=reason, evidence_type=kind,
                    evidence_number=mask_number(number), why="another_open_request")
        raise ResetBusy(BUSY) from None
    staff_event("staff.phone_reset.start", "success", staff, "reset_phone",
                account_id=account.id, **_detail(reset))
    return reset


def _require_requester(staff: StaffContext, reset: PhoneResetRequest) -> None:
    if reset.requested_by != staff.id:
        raise ActionRefused(NOT_REQUESTER)
    if reset.status != "awaiting_otp":
        raise ActionRefused(DECIDED)


def send_code(staff: StaffContext, reset: PhoneResetRequest) -> StepResult:
    """Send (or re-send) the OTP to the new phone, within the OTP limits."""
    _require_requester(staff, reset)
    # SMS caps count per staff member rather than per address: a desk's staff share one.
    sent = codes.send_code(Challenge(otp_id(reset), HELPDESK, account_id=reset.account_id,
                               staff=staff.actor), reset.new_phone)
    if sent.sent:
        return StepResult(Step.CODE_SENT)
    return StepResult(Step.NOT_SENT, sent.message)


def confirm_code(session: Session, staff: StaffContext, reset: PhoneResetRequest,
                 code: str) -> StepResult:
    """The code the citizen read out; on success the carrier check runs."""
    _require_requester(staff, reset)
    result = check_code(otp_id(reset), code[:12])
    if result.outcome is CheckOutcome.OK:
        p = provider()
        p.state.put(_otp_ok_key(reset), {}, p.settings.session.transaction_ttl)
        staff_event("staff.phone_reset.otp", "success", staff, "reset_phone",
                    account_id=reset.account_id, **_detail(reset))
        return check_carrier(session, staff, reset)
    exhausted = result.outcome is CheckOutcome.EXHAUSTED
    staff_event("staff.phone_reset.otp", "failure", staff, "reset_phone",
                account_id=reset.account_id, outcome=result.outcome.value, **_detail(reset))
    if exhausted:
        if _transition(session, reset, "awaiting_otp", status="cancelled", decided_at=utcnow()):
            session.commit()
        return StepResult(Step.EXHAUSTED, "Nhập sai mã OTP quá số lần cho phép; yêu cầu đã bị "
                                          "hủy. Vui lòng tạo yêu cầu mới.")
    return StepResult(Step.WRONG_CODE, "Mã OTP không đúng hoặc đã hết hiệu lực. "
                                       f"Còn {max(result.tries_left, 0)} lần thử.")


def check_carrier(session: Session, staff: StaffContext, reset: PhoneResetRequest) -> StepResult:
    """Is the new phone registered to this citizen? (Run again after an outage.)"""
    _require_requester(staff, reset)
    p = provider()
    if not code_confirmed(reset):
        raise ActionRefused("Số điện thoại mới chưa được xác thực bằng OTP.")
    account = session.get(Account, reset.account_id)
    try:
        check = p.carrier.check_subscriber(
            reset.new_phone, PersonQuery(account.cccd, account.full_name, account.birthdate))
    except ConnectorUnavailable as exc:
        staff_event("staff.phone_reset.carrier", "error", staff, "reset_phone",
                    account_id=account.id, **_detail(reset))
        return StepResult(Step.CARRIER_UNAVAILABLE, exc.user_message)
    confirmed = check.registered_to_person
    staff_event("staff.phone_reset.carrier", "success" if confirmed else "failure", staff,
                "reset_phone", account_id=account.id, carrier=check.carrier,
                subscription=check.status, cccd_match=check.cccd_match,
                name_match=check.name_match, birthdate_match=check.birthdate_match,
                **_detail(reset))
    p.state.delete(_otp_ok_key(reset))
    if confirmed:
        _change_phone(session, staff, reset, "awaiting_otp", "reset_phone",
                      carrier_confirmed=True)
        return StepResult(Step.DONE)
    if not _transition(session, reset, "awaiting_otp", status="awaiting_approval",
                       carrier_confirmed=False):
        raise ActionRefused(DECIDED)
    session.commit()
    return StepResult(Step.AWAITING_APPROVAL)


def approve(session: Session, staff: StaffContext, reset: PhoneResetRequest) -> None:
    """Dual control: a supervisor who is not the requester lets the change happen."""
    ensure(staff, "approve_reset")
    if reset.requested_by == staff.id:
        staff_event("staff.phone_reset.approve", "refused", staff, "approve_reset",
                    account_id=reset.account_id, why="same_staff", **_detail(reset))
        raise ActionRefused(SAME_STAFF)
    _change_phone(session, staff, reset, "awaiting_approval", "approve_reset",
                  approved_by=staff.id)
    staff_event("staff.phone_reset.approve", "success", staff, "approve_reset",
                account_id=reset.account_id, **_detail(reset))


def reject(session: Session, staff: StaffContext, reset: PhoneResetRequest, reason: str) -> None:
    """A supervisor refuses the change; nothing on the account changes."""
    ensure(staff, "approve_reset")
    why = clean_reason(reason)
    if not _transition(session, reset, "awaiting_approval", status="rejected",
                       approved_by=staff.id, decided_at=utcnow()):
        raise ActionRefused(DECIDED)
    session.commit()
    staff_event("staff.phone_reset.reject", "success", staff, "approve_reset",
                account_id=reset.account_id, decision_reason=why, **_detail(reset))


def cancel(session: Session, staff: StaffContext, reset: PhoneResetRequest) -> None:
    """The requester (or a supervisor) withdraws an open request."""
    if reset.requested_by != staff.id:
        ensure(staff, "approve_reset")
    current = reset.status
    if current not in OPEN_RESET_STATES or not _transition(
            session, reset, current, status="cancelled", decided_at=utcnow()):
        raise ActionRefused(DECIDED)
    session.commit()
    staff_event("staff.phone_reset.cancel", "success", staff, "reset_phone",
                account_id=reset.account_id, **_detail(reset))


def _change_phone(session: Session, staff: StaffContext, reset: PhoneResetRequest,
                  current: str, permission: str, **values) -> None:
    if not _transition(session, reset, current, status="done", decided_at=utcnow(), **values):
        raise ActionRefused(DECIDED)
    account = session.get(Account, reset.account_id)
    old_phone = replace_default_phone(account, reset.new_phone)
    session.commit()
    ended = end_account_sessions(account.id)
    for sso in ended:
        notify_portals(sso)
    notified = False
    if old_phone is not None:
        try:
            provider().sms.send(old_phone, OLD_PHONE_NOTICE.format(new=mask_phone(reset.new_phone)))
            notified = True
        except ConnectorUnavailable:
            log.warning("notice to the old phone of account %s not sent", account.id)
    record_event("phone.change", "success", account_id=account.id, actor=staff.actor,
                 actor_role=staff.role_for(permission), sessions_ended=len(ended),
                 old_phone=mask_phone(old_phone) if old_phone else None,
                 old_phone_notified=notified, **_detail(reset))
