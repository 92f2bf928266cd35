"""Views of the OTP-phone reset: the form, the request page (OTP typed by the citizen,
carrier check, approval by a second supervisor), and the decisions."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import abort, redirect, render_template, request, url_for

from idp.helpdesk.auth import current_staff, requires
from idp.helpdesk.blueprint import bp, form_field
from idp.helpdesk.evidence import EVIDENCE_TYPES
from idp.helpdesk.resets import (
    ResetBusy,
    Step,
    StepResult,
    approve,
    cancel,
    check_carrier,
    code_confirmed,
    confirm_code,
    otp_id,
    reject,
    send_code,
    start_reset,
)
from idp.helpdesk.services import ActionRefused
from idp.helpdesk.views import load_account
from idp.otp.codes import pending_code
from idp.provider import provider
from idp.store.models import Account, PhoneResetRequest, StaffMember

MESSAGES = {  # (text for the requester, text for a supervisor who may decide, alert kind)
    Step.CODE_SENT: ("Đã gửi mã OTP tới số điện thoại mới.", None, "ok"),
    Step.AWAITING_APPROVAL: (
        "Nhà mạng không xác nhận số điện thoại mới đứng tên công dân này. Yêu cầu cần một cán "
        "bộ giám sát khác phê duyệt.",
        "Nhà mạng không xác nhận số điện thoại mới đứng tên công dân này. Yêu cầu đang chờ bạn "
        "phê duyệt.",
        "warning"),
    Step.DONE: ("Đã đổi số điện thoại nhận OTP. Số cũ đã được thông báo.", None, "ok"),
}


@bp.route("/accounts/<int:account_id>/reset-phone", methods=["GET", "POST"])
@requires("reset_phone")
def reset_phone(account_id: int):
    """Reason, the document checked in person, and the new phone."""
    account = load_account(account_id)
    if request.method == "GET":
        return _form(account, {})
    form = request.form
    try:
        reset = start_reset(
            provider().db.session, current_staff(), account,
            new_phone=form_field(form, "new_phone", 30), reason=form_field(form, "reason", 600),
            evidence_type=form_field(form, "evidence_type", 32),
            evidence_number=form_field(form, "evidence_number", 40))
    except ResetBusy as exc:
        return _form(account, form, str(exc), 409)
    except ActionRefused as exc:
        return _form(account, form, str(exc), 400)
    return _after(reset, send_code(current_staff(), reset))


def _form(account: Account, form, error: str | None = None, status: int = 200):
    return render_template("helpdesk/reset_form.html", account=account, form=form, error=error,
                           evidence_types=EVIDENCE_TYPES), status


def _load(reset_id: int) -> PhoneResetRequest:
    reset = provider().db.session.get(PhoneResetRequest, reset_id)
    if reset is None:
        abort(404)
    return reset


def _page(reset: PhoneResetRequest, *, step: Step | None = None, error: str | None = None,
          status: int = 200):
    session = provider().db.session
    staff = current_staff()
    may_decide = staff.may("approve_reset") and reset.requested_by != staff.id
    message = kind = None
    if step in MESSAGES:
        for_requester, for_approver, kind = MESSAGES[step]
        message = (for_approver if may_decide else None) or for_requester
    pending = pending_code(otp_id(reset)) if reset.status == "awaiting_otp" else None
    now = time.time()
    approver = session.get(StaffMember, reset.approved_by) if reset.approved_by else None
    return render_template(
        "helpdesk/reset.html", reset=reset, account=session.get(Account, reset.account_id),
        requester=session.get(StaffMember, reset.requested_by), approver=approver,
        is_requester=reset.requested_by == staff.id,
        may_decide=may_decide, message_kind=kind,
        evidence_name=EVIDENCE_TYPES.get(reset.evidence_type, reset.evidence_type),
        seconds_left=max(0, int(pending.expires_at - now)) if pending else 0,
        resend_in=max(0, int(pending.resend_at - now)) if pending else 0,
        carrier_retry=reset.status == "awaiting_otp" and code_confirmed(reset),
        message=message, error=error,
    ), status


def _after(reset: PhoneResetRequest, result: StepResult | None):
    """Progress goes to the request's page (reloading it repeats nothing); a setback is
    shown at once with what to do."""
    if result is not None and result.step not in MESSAGES:
        provider().db.session.refresh(reset)
        return _page(reset, error=result.message, status=400)
    step = result.step.value if result is not None else None
    return redirect(url_for(".reset", reset_id=reset.id, m=step), 303)


@bp.route("/resets/<int:reset_id>")
@requires("reset_phone")
def reset(reset_id: int):
    try:
        step = Step(request.args.get("m", ""))
    except ValueError:
        step = None
    return _page(_load(reset_id), step=step)


def _step(reset_id: int, action: Callable[[PhoneResetRequest], StepResult | None]):
    """Run one step; then the request's page, or the refusal."""
    target = _load(reset_id)
    try:
        result = action(target)
    except ActionRefused as exc:
        provider().db.session.refresh(target)
        return _page(target, error=str(exc), status=409)
    return _after(target, result)


@bp.route("/resets/<int:reset_id>/otp", methods=["POST"])
@requires("reset_phone")
def reset_otp(reset_id: int):
    return _step(reset_id, lambda target: confirm_code(
        provider().db.session, current_staff(), target, form_field(request.form, "otp", 12)))


@bp.route("/resets/<int:reset_id>/resend", methods=["POST"])
@requires("reset_phone")
def reset_resend(reset_id: int):
    return _step(reset_id, lambda target: send_code(current_staff(), target))


@bp.route("/resets/<int:reset_id>/carrier", methods=["POST"])
@requires("reset_phone")
def reset_carrier(reset_id: int):
    return _step(reset_id, lambda target: check_carrier(
        provider().db.session, current_staff(), target))


@bp.route("/resets/<int:reset_id>/approve", methods=["POST"])
@requires("approve_reset")
def reset_approve(reset_id: int):
    return _step(reset_id, lambda target: approve(provider().db.session, current_staff(), target))


@bp.route("/resets/<int:reset_id>/reject", methods=["POST"])
@requires("approve_reset")
def reset_reject(reset_id: int):
    return _step(reset_id, lambda target: reject(
        provider().db.session, current_staff(), target, form_field(request.form, "reason", 600)))


@bp.route("/resets/<int:reset_id>/cancel", methods=["POST"])
@requires("reset_phone")
def reset_cancel(reset_id: int):
    return _step(reset_id, lambda target: cancel(provider().db.session, current_staff(), target))
