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
from idp.deadline import extend_deadline, offer_more_time
from idp.errors import error_page, refuse
from idp.login.outcome import keep_login_from_query, ways_back_to_login
from idp.otp.codes import REGISTER, Challenge
from idp.otp.step import CodeStep, OtherWays
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
    registry_check_allowed,
    save_registration,
    send_activation_email,
)
from idp.security.captcha import check_captcha, new_captcha
from idp.sessions import browser_id
from idp.store.models import Complaint
from vnid.person import InvalidField, InvalidPerson, normalize_phone, validate_person

bp = Blueprint("register", __name__, url_prefix="/register")

EXPIRED = "Phiên đăng ký đã hết hạn hoặc không hợp lệ. Vui lòng đăng ký lại từ đầu."
REGISTER_CODE = CodeStep(REGISTER, heading="Xác thực số điện thoại",
                         title="Nhập mã OTP – Đăng ký tài khoản", check_endpoint="register.otp",
                         resend_endpoint="register.resend")


@bp.route("")
def choose_type():
    """Công dân, Doanh nghiệp or Cơ quan nhà nước."""
    keep_login_from_query()
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
    if request.form.get("captcha_refresh"):
        return _form_page(method, values)
    # Every wrong field is listed at once, the captcha's with them (checking the fields asks
    # nothing of a registry, so it tells a stranger nothing).
    errors: dict[str, str] = {}
    try:
        person = validate_person(values, optional=spec.optional)
        bhxh_code = spec.check_bhxh_code(values.get("bhxh_code", ""))
    except (InvalidPerson, InvalidField) as exc:
        errors = dict(exc.errors) if isinstance(exc, InvalidPerson) else {exc.field: exc.message}
    activation = values.get("activation") or "sms"
    if activation not in ("sms", "email"):
        errors["activation"] = "Vui lòng chọn cách kích hoạt tài khoản."
    if not check_captcha(request.form.get("captcha_id", ""), request.form.get("captcha", "")):
        errors["captcha"] = "Mã kiểm tra không đúng, vui lòng nhập mã mới bên dưới."
    if errors:
        order = [*spec.field_names, "activation", "captcha"]  # the summary reads as the form
        errors = dict(sorted(errors.items(), key=lambda item: (
            order.index(item[0]) if item[0] in order else len(order))))
        return _form_page(method, values, errors, status=400)
    if (refusal := registry_check_allowed(person.cccd, request.remote_addr)) is not None:
        return _form_page(method, values, message=refusal, status=429)
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
        send_activation_email(registration, provider().external_url(url_for(".activate")))
        return render_template("register/email_sent.html", registration=registration)
    return _send_and_show_otp(registration)


def _challenge(registration: Registration) -> Challenge:
    return Challenge(registration.otp_id, REGISTER, cccd=registration.person["cccd"],
                     ip=request.remote_addr)


def _send_and_show_otp(registration: Registration):
    """Send the code; the page comes whether or not it went out (it then says why)."""
    REGISTER_CODE.send(_challenge(registration), registration.phone)
    return redirect(url_for(".otp", r=registration.id), 303)


def _registration() -> Registration:
    registration = load_registration(request.values.get("r", ""), browser_id())
    if registration is None:
        refuse(EXPIRED, actions=[("Đăng ký lại", url_for(".choose_type"))])
    offer_more_time(registration.created + provider().settings.registration.ttl,
                    "register.extend", r=registration.id)
    return registration


@bp.route("/extend", methods=["POST"])
def extend():
    """More time for this registration, asked by the page before it runs out."""
    return extend_deadline(_registration(), save_registration,
                           provider().settings.registration.ttl)


def _ways() -> OtherWays:
    return OtherWays(counter=True, links=[
        ("Đăng ký bằng phương thức khác", url_for(".choose_method", account_type="citizen"))])


@bp.route("/otp", methods=["GET", "POST"])
def otp():
    """Proof of control of the phone; only then may an existing account be mentioned."""
    registration = _registration()
    if registration.phone is None:
        return redirect(url_for(".phone", r=registration.id))
    hidden = {"r": registration.id}
    if request.method == "GET":
        return REGISTER_CODE.page(registration.otp_id, hidden, ways=_ways())
    return REGISTER_CODE.answer_code(
        registration.otp_id, request.form.get("otp") or "", hidden,
        passed=lambda: _phone_proven(registration),
        exhausted=lambda: _exhausted(registration), ways=_ways)


def _phone_proven(registration: Registration):
    registration.proven = True
    save_registration(registration)
    record_event("register.otp", "success", method=registration.method)
    if cccd_has_account(registration.person["cccd"]):
        return redirect(url_for(".exists", r=registration.id), 303)
    return redirect(url_for(".password", r=registration.id), 303)


def _exhausted(registration: Registration):
    record_event("register.otp", "failure", method=registration.method, reason="exhausted")
    end_registration(registration)
    return error_page(400, "Bạn đã nhập sai mã OTP quá số lần cho phép. Vui lòng đăng ký lại "
                      "từ đầu.", actions=[("Đăng ký lại", url_for(".choose_type")),
                                          *ways_back_to_login()[1:]])


@bp.route("/otp/resend", methods=["POST"])
def resend():
    registration = _registration()
    if registration.phone is None:
        return redirect(url_for(".phone", r=registration.id), 303)
    return REGISTER_CODE.answer_resend(_challenge(registration), registration.phone,
                                       {"r": registration.id}, ways=_ways)


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
    return render_template("register/done.html", full_name=account.full_name,
                           actions=ways_back_to_login(account.cccd))


@bp.route("/password-check", methods=["POST"])
def password_check():
    """Live feedback while typing: the same rules the final submit applies."""
    registration = _registration()
    secret = (request.form.get("password") or "")[:256]
    return {"problems": password_problems(registration, secret, secret)}
