"""Registration screens, as the national portal's guides describe them.

Account type → method → the method's form (with captcha) → OTP to the phone
(or e-mail link) → password → done. Views parse and render; the rules are in
`idp.register.services` and `idp.accounts`.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from connectors.base import ConnectorUnavailable
from idp.accounts import AccountExists, create_account
from idp.audit import record_event
from idp.errors import error_page, refuse
from idp.identity import InvalidField, InvalidPerson, normalize_phone, validate_person
from idp.otp import (
    SEND_MESSAGES,
    CheckOutcome,
    SendOutcome,
    check_otp,
    render_otp_page,
    send_otp,
)
from idp.provider import provider
from idp.register.forms import FORMS, password_problems
from idp.register.services import (
    Registration,
    RegistrationRefused,
    activate_by_email,
    cccd_has_account,
    check_bhxh,
    check_mobile,
    check_post,
    confirm_phone_for_email_registration,
    end_registration,
    load_registration,
    save_registration,
    send_activation_email,
    within_attempt_limits,
)
from idp.security.captcha import check_captcha, new_captcha
from idp.sessions import browser_id
from idp.store.models import Complaint

bp = Blueprint("register", __name__, url_prefix="/register")

EXPIRED = "Phiên đăng ký đã hết hạn hoặc không hợp lệ. Vui lòng đăng ký lại từ đầu."


@bp.route("")
def choose_type():
    """Công dân, Doanh nghiệp or Cơ quan nhà nước."""
    return render_template("register/choose_type.html")


@bp.route("/<any(citizen, enterprise, agency):account_type>")
def choose_method(account_type: str):
    """The methods open to this account type, level-2 group first."""
    return render_template("register/choose_method.html", account_type=account_type)


def _form_page(method: str, values: dict, errors: dict | None = None, message: str | None = None,
               status: int = 200):
    return render_template(
        "register/form.html", form=FORMS[method], method=method, values=values,
        errors=errors or {}, message=message, captcha_id=new_captcha(),
    ), status


@bp.route("/<any(mobile, bhxh, post):method>", methods=["GET", "POST"])
def form(method: str):
    """The method's form; on POST, the registry check, then the OTP or the e-mail link."""
    if request.method == "GET":
        return _form_page(method, {})
    spec = FORMS[method]
    values = {name: (request.form.get(name) or "").strip()[:120] for name in spec.field_names}
    if not check_captcha(request.form.get("captcha_id", ""), request.form.get("captcha", "")):
        return _form_page(method, values, {"captcha": "Mã kiểm tra không đúng, vui lòng nhập lại."},
                          status=400)
    try:
        person = validate_person(values, optional=spec.optional)
        bhxh_code = spec.check_bhxh_code(values.get("bhxh_code", ""))
    except (InvalidPerson, InvalidField) as exc:
        errors = exc.errors if isinstance(exc, InvalidPerson) else {exc.field: exc.message}
        return _form_page(method, values, errors, status=400)
    activation = values.get("activation") or "sms"
    if activation not in ("sms", "email"):
        return _form_page(method, values, {"activation": "Vui lòng chọn cách kích hoạt tài khoản."},
                          status=400)
    if not within_attempt_limits(person.cccd, request.remote_addr):
        return _form_page(method, values, message="Bạn đã thử đăng ký quá nhiều lần. "
                          "Vui lòng thử lại sau một giờ.", status=429)
    try:
        if method == "mobile":
            registration = check_mobile(browser_id(), person)
        elif method == "bhxh":
            registration = check_bhxh(browser_id(), bhxh_code, person)
        else:
            registration = check_post(browser_id(), person, activation)
    except RegistrationRefused as exc:
        return _form_page(method, values, message=str(exc), status=422)
    except ConnectorUnavailable as exc:
        record_event("register.check", "unavailable", method=method, system=exc.system)
        return _form_page(method, values, message=exc.user_message, status=503)
    if registration.phone is None:
        send_activation_email(registration, url_for(".activate", _external=True))
        return render_template("register/email_sent.html", registration=registration)
    return _send_and_show_otp(registration)


def _send_and_show_otp(registration: Registration):
    sent = send_otp(registration.otp_id, registration.phone, purpose="đăng ký tài khoản",
                    ip=request.remote_addr, account_id=None)
    if sent.outcome not in (SendOutcome.SENT, SendOutcome.COOLDOWN):
        return error_page(429, SEND_MESSAGES[sent.outcome])
    return redirect(url_for(".otp", r=registration.id), 303)


def _registration() -> Registration:
    registration = load_registration(request.values.get("r", ""), browser_id())
    if registration is None:
        refuse(EXPIRED)
    return registration


def _otp_page(registration: Registration, error: str | None = None, status: int = 200):
    return render_otp_page(
        registration.otp_id, status=status, heading="Xác thực số điện thoại",
        form_action=url_for(".otp"), resend_action=url_for(".resend"),
        hidden={"r": registration.id}, error=error,
    )


@bp.route("/otp", methods=["GET", "POST"])
def otp():
    """Proof of control of the phone; only then may an existing account be mentioned."""
    registration = _registration()
    if registration.phone is None:
        return redirect(url_for(".phone", r=registration.id))
    if request.method == "GET":
        return _otp_page(registration)
    result = check_otp(registration.otp_id, (request.form.get("otp") or "")[:12])
    if result.outcome is CheckOutcome.OK:
        registration.proven = True
        save_registration(registration)
        record_event("register.otp", "success", method=registration.method)
        if cccd_has_account(registration.person["cccd"]):
            return redirect(url_for(".exists", r=registration.id), 303)
        return redirect(url_for(".password", r=registration.id), 303)
    record_event("register.otp", "failure", method=registration.method,
                 reason=result.outcome.value)
    if result.outcome is CheckOutcome.EXHAUSTED:
        end_registration(registration)
        return error_page(400, "Bạn đã nhập sai mã OTP quá số lần cho phép. "
                          "Vui lòng đăng ký lại từ đầu.")
    if result.outcome is CheckOutcome.EXPIRED:
        return _otp_page(registration, "Mã OTP đã hết hiệu lực. Vui lòng bấm \"Gửi lại OTP\".",
                         400)
    return _otp_page(registration, f"Mã OTP không đúng. Bạn còn {result.tries_left} lần thử.", 400)


@bp.route("/otp/resend", methods=["POST"])
def resend():
    registration = _registration()
    if registration.phone is None:
        return redirect(url_for(".phone", r=registration.id), 303)
    sent = send_otp(registration.otp_id, registration.phone, purpose="đăng ký tài khoản",
                    ip=request.remote_addr, account_id=None)
    if sent.outcome is SendOutcome.SENT:
        return redirect(url_for(".otp", r=registration.id), 303)
    return _otp_page(registration, SEND_MESSAGES[sent.outcome].format(wait=sent.wait_seconds), 429)


@bp.route("/activate")
def activate():
    """The one-time link e-mailed by Vietnam Post activation."""
    registration = activate_by_email(request.args.get("token", ""), browser_id())
    if registration is None:
        return error_page(400, "Liên kết kích hoạt không hợp lệ, đã được dùng hoặc đã hết hạn. "
                          "Vui lòng mở liên kết trên cùng trình duyệt đã dùng để đăng ký.")
    registration.email_verified = True
    save_registration(registration)
    record_event("register.email", "success", method=registration.method)
    return redirect(url_for(".phone", r=registration.id))


@bp.route("/phone", methods=["GET", "POST"])
def phone():
    """After an e-mail activation: the phone that will receive login OTPs."""
    registration = _registration()
    if not registration.email_verified:
        refuse(EXPIRED)
    error = None
    if request.method == "POST":
        try:
            number = normalize_phone(request.form.get("phone") or "")
            confirm_phone_for_email_registration(registration, number)
            return _send_and_show_otp(registration)
        except InvalidField as exc:
            error = exc.message
        except RegistrationRefused as exc:
            error = str(exc)
        except ConnectorUnavailable as exc:
            error = exc.user_message
    return render_template("register/phone.html", registration=registration, error=error), (
        400 if error else 200)


@bp.route("/exists")
def exists():
    """The CCCD already has an account: forgot password, counter, or complaint."""
    registration = _registration()
    if not registration.proven:
        refuse(EXPIRED)
    return render_template("register/exists.html", registration=registration)


@bp.route("/complaint", methods=["GET", "POST"])
def complaint():
    """"Someone registered with my CCCD": a record for helpdesk staff."""
    registration = _registration()
    if not registration.proven or not cccd_has_account(registration.person["cccd"]):
        refuse(EXPIRED)
    description = (request.form.get("description") or "").strip()
    if request.method == "GET" or not description or len(description) > 2000:
        error = None if request.method == "GET" else "Vui lòng mô tả sự việc (tối đa 2000 ký tự)."
        return render_template("register/complaint.html", registration=registration,
                               error=error, description=description[:2000]), (
            400 if error else 200)
    session = provider().db.session
    row = Complaint(cccd=registration.person["cccd"], full_name=registration.person["full_name"],
                    phone=registration.phone, email=registration.email, description=description)
    session.add(row)
    session.commit()
    record_event("complaint.filed", "success", complaint=row.id)
    end_registration(registration)
    return render_template("register/complaint_done.html", number=row.id)


@bp.route("/password", methods=["GET", "POST"])
def password():
    """Set the password (portal rule + zxcvbn), then the account exists."""
    registration = _registration()
    if not registration.proven:
        abort(redirect(url_for(".otp", r=registration.id)))
    if cccd_has_account(registration.person["cccd"]):
        return redirect(url_for(".exists", r=registration.id), 303)
    if request.method == "GET":
        return render_template("register/password.html", registration=registration, problems=[])
    secret = (request.form.get("password") or "")[:256]
    problems = password_problems(registration, secret, request.form.get("confirm") or "")
    if problems:
        return render_template("register/password.html", registration=registration,
                               problems=problems), 400
    p = provider()
    try:
        account = create_account(
            p.db.session, registration.person_data(), secret, p.passwords,
            verified_by={"mobile": "carrier"}.get(registration.method, registration.method),
            bhxh_code=registration.bhxh_code, email_verified=registration.email_verified,
        )
    except AccountExists:
        return redirect(url_for(".exists", r=registration.id), 303)
    end_registration(registration)
    record_event("register.complete", "success", account_id=account.id,
                 method=registration.method)
    return render_template("register/done.html", full_name=account.full_name)


@bp.route("/password-check", methods=["POST"])
def password_check():
    """Live feedback while typing: the same rules the final submit applies."""
    registration = _registration()
    secret = (request.form.get("password") or "")[:256]
    return {"problems": password_problems(registration, secret, secret)}
