"""Staff console views: login (password, then TOTP), home, account search and view,
unlock, suspend, complaints. Views parse and render; the rules are in the services."""

from __future__ import annotations

from flask import abort, make_response, redirect, render_template, request, url_for

from idp.audit import record_event
from idp.helpdesk import login as staff_login
from idp.helpdesk.auth import (
    STAFF_COOKIE,
    StaffContext,
    clear_cookie,
    current_staff,
    end_staff_session,
    keep_session_after_credentials_change,
    pending_staff_id,
    requires,
    set_cookie,
    staff_event,
    start_pending,
    start_session,
)
from idp.helpdesk.blueprint import bp, form_field
from idp.helpdesk.evidence import mask_number
from idp.helpdesk.resets import pending_approvals
from idp.helpdesk.roles import ROLES
from idp.helpdesk.services import (
    ActionRefused,
    complaint_account_id,
    find_account,
    handle_complaint,
    open_complaints,
    set_suspended,
    unlock_account,
    view_account,
)
from idp.helpdesk.staff import (
    StaffError,
    normalize_username,
    offered_replacement,
    replace_credentials,
)
from idp.login.devices import remember_device
from idp.login.throttle import STAFF, Gate, GateAnswer
from idp.provider import provider
from idp.store.models import Account, Complaint, StaffMember, utcnow
from idp.vntime import clock_time
from vnid.person import mask_cccd, mask_phone

REJECTED = "Tên đăng nhập, mật khẩu hoặc mã xác thực không đúng."
THROTTLED = {
    Gate.WAIT: "Để bảo vệ tài khoản, vui lòng chờ {wait} giây rồi đăng nhập lại.",
    Gate.PAUSED: "Do có nhiều lần đăng nhập không thành công, đăng nhập bằng tên này từ trình "
                 "duyệt này được tạm dừng đến {until}. Trên trình duyệt bạn thường dùng để đăng "
                 "nhập, việc tạm dừng không áp dụng; hoặc nhờ quản trị viên hỗ trợ.",
    Gate.ADDRESS_PAUSED: "Có quá nhiều lần đăng nhập từ mạng của bạn; vui lòng thử lại sau "
                         "{until}.",
}


def _throttled(answer: GateAnswer) -> str:
    return THROTTLED[answer.gate].format(wait=answer.wait_seconds,
                                         until=clock_time(answer.until))


@bp.app_template_global()
def staff_roles_label(roles) -> str:
    return ", ".join(ROLES.get(role, role) for role in roles)


@bp.app_template_filter("staff_masked_cccd")
def _masked_cccd(cccd: str) -> str:
    return mask_cccd(cccd)


@bp.app_template_filter("staff_masked_evidence")
def _masked_evidence(number: str) -> str:
    return mask_number(number)


@bp.app_template_filter("staff_masked_phone")
def _masked_phone(phone: str) -> str:
    return mask_phone(phone)


def _login_page(error: str | None = None, status: int = 200, username: str = ""):
    return render_template("helpdesk/login.html", error=error, username=username), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    """First factor: username and password."""
    if request.method == "GET":
        return _login_page()
    username = normalize_username(request.form.get("username") or "")
    password = (request.form.get("password") or "")[:200]
    if not username or not password:
        return _login_page("Vui lòng nhập tên đăng nhập và mật khẩu.", 400, username)
    session = provider().db.session
    answer, staff, reason = staff_login.check_password(session, username, password,
                                                       request.remote_addr)
    actor = f"staff:{username}" if staff_login.check_username(username) else None
    if staff is None:
        record_event("staff.login", "failure", actor=actor, step="password", reason=reason)
        if answer.gate is not Gate.OPEN:
            return _login_page(_throttled(answer), 429, username)
        return _login_page(REJECTED, 401, username)
    response = make_response(redirect(url_for(".totp"), 303))
    return set_cookie(response, start_pending(staff))


@bp.route("/login/totp", methods=["GET", "POST"])
def totp():
    """Second factor: the 6-digit code of the staff member's authenticator app."""
    sid = request.cookies.get(STAFF_COOKIE)
    session = provider().db.session
    staff_id = pending_staff_id(sid)
    staff = session.get(StaffMember, staff_id) if staff_id is not None else None
    if staff is None or staff.status != "active":
        return redirect(url_for(".login"), 303)
    if request.method == "GET":
        return render_template("helpdesk/totp.html")
    ok, reason = staff_login.check_totp(staff, form_field(request.form, "code", 12),
                                        request.remote_addr)
    context = StaffContext.of(staff)
    if not ok:
        staff_event("staff.login", "failure", context, step="totp", reason=reason)
        limits = provider().limits
        if not limits.hit("staff.totp_tries", sid) or limits.spent("staff.totp_tries", sid):
            end_staff_session(sid)
            return clear_cookie(make_response(_login_page(REJECTED, 401)))
        return render_template("helpdesk/totp.html", error=REJECTED), 401
    new_sid = start_session(sid, staff)
    if new_sid is None:  # a concurrent submission already used this password step
        return redirect(url_for(".login"), 303)
    STAFF.forgive_device(staff.username)
    remember_device(STAFF.realm, staff.username)
    staff.last_login_at = utcnow()
    session.commit()
    staff_event("staff.login", "success", context, method="pwd+totp")
    then = ".credentials" if staff.must_replace_credentials else ".home"
    return set_cookie(make_response(redirect(url_for(then), 303)), new_sid)


@bp.route("/credentials", methods=["GET", "POST"])
@requires(before_replacement=True)
def credentials():
    """The member's own password and authenticator, replacing what an admin handed over."""
    session = provider().db.session
    member = session.get(StaffMember, current_staff().id)
    if not member.must_replace_credentials:
        return redirect(url_for(".home"), 303)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            replace_credentials(session, member,
                                (request.form.get("password") or "")[:256],
                                (request.form.get("confirm") or "")[:256],
                                form_field(request.form, "code", 12))
        except StaffError as exc:
            errors = exc.errors
            staff_event("staff.credentials_replace", "failure", current_staff(),
                        fields=sorted(errors))
        else:
            keep_session_after_credentials_change(member)
            staff_event("staff.credentials_replace", "success", current_staff())
            return redirect(url_for(".home"), 303)
    return render_template("helpdesk/credentials.html", member=member, errors=errors,
                           enrolment=offered_replacement(member)), 400 if errors else 200


@bp.route("/logout", methods=["POST"])
@requires(before_replacement=True)
def logout():
    staff_event("staff.logout", "success", current_staff())
    end_staff_session(request.cookies.get(STAFF_COOKIE))
    return clear_cookie(make_response(redirect(url_for(".login"), 303)))


@bp.route("/")
@requires()
def home():
    return _home()


def _home(search_error: str | None = None, status: int = 200):
    """What this staff member's roles allow, with the work waiting for them."""
    staff = current_staff()
    session = provider().db.session
    approvals = pending_approvals(session) if staff.may("approve_reset") else []
    waiting = open_complaints(session) if staff.may("complaints") else []
    return render_template("helpdesk/home.html", approvals=approvals, complaints=waiting,
                           search_error=search_error), status


@bp.route("/search", methods=["POST"])
@requires("search")
def search():
    """Exact CCCD only; the number travels in the form body, never in a URL or access log."""
    try:
        account = find_account(provider().db.session, current_staff(),
                               form_field(request.form, "cccd", 20))
    except ActionRefused as exc:
        return _home(str(exc), 400)
    if account is None:
        return _home("Không tìm thấy tài khoản với số định danh này.", 404)
    return redirect(url_for(".account", account_id=account.id), 303)


def load_account(account_id: int) -> Account:
    account = provider().db.session.get(Account, account_id)
    if account is None or account.cccd is None:  # organisations are not the helpdesk's
        abort(404)
    return account


@bp.route("/accounts/<int:account_id>")
@requires("search")
def account(account_id: int):
    view = view_account(provider().db.session, current_staff(), account_id)
    if view is None:
        abort(404)
    return render_template("helpdesk/account.html", view=view)


def _account_action(account_id: int, action) -> object:
    """Run `action(account, reason)`; back to the account page, with the refusal if any."""
    target = load_account(account_id)
    try:
        action(target, form_field(request.form, "reason", 600))
    except ActionRefused as exc:
        view = view_account(provider().db.session, current_staff(), account_id)
        return render_template("helpdesk/account.html", view=view, error=str(exc)), 400
    return redirect(url_for(".account", account_id=account_id), 303)


@bp.route("/accounts/<int:account_id>/unlock", methods=["POST"])
@requires("unlock")
def unlock(account_id: int):
    return _account_action(account_id, lambda target, reason: unlock_account(
        current_staff(), target, reason))


@bp.route("/accounts/<int:account_id>/suspend", methods=["POST"])
@requires("suspend")
def suspend(account_id: int):
    return _account_action(account_id, lambda target, reason: set_suspended(
        provider().db.session, current_staff(), target, reason, True))


@bp.route("/accounts/<int:account_id>/reactivate", methods=["POST"])
@requires("suspend")
def reactivate(account_id: int):
    return _account_action(account_id, lambda target, reason: set_suspended(
        provider().db.session, current_staff(), target, reason, False))


@bp.route("/complaints")
@requires("complaints")
def complaints():
    return render_template("helpdesk/complaints.html",
                           complaints=open_complaints(provider().db.session))


@bp.route("/complaints/<int:complaint_id>", methods=["GET", "POST"])
@requires("complaints")
def complaint(complaint_id: int):
    """One complaint, the account it disputes, and closing it with a resolution."""
    session = provider().db.session
    row = session.get(Complaint, complaint_id)
    if row is None:
        abort(404)
    error = None
    if request.method == "GET":
        staff_event("staff.view_complaint", "success", current_staff(), "complaints",
                    complaint=row.id)
    else:
        try:
            handle_complaint(session, current_staff(), row,
                             form_field(request.form, "resolution", 2100))
            return redirect(url_for(".complaints"), 303)
        except ActionRefused as exc:
            error = str(exc)
    return render_template("helpdesk/complaint.html", complaint=row, error=error,
                           account_id=complaint_account_id(session, row)), 400 if error else 200

