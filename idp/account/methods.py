"""Console pages that change login methods: password, OTP phones, authenticator app,
certificates (USB tokens), e-mail.

Every change here needs a recent authentication (`recent_viewer`).
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from connectors.base import ConnectorUnavailable
from idp.account import phones, services, totp
from idp.account.web import Viewer, bp, form_int, page, recent_viewer, viewer
from idp.certificates import bindings
from idp.interaction.methods import USB_TOKEN, works_here
from idp.otp.codes import PHONE_CHANGE, Challenge
from idp.otp.step import CodeStep, OtherWays
from idp.provider import provider
from idp.sessions import browser_id
from idp.vntime import clock_time, vietnam_time
from vnid.person import InvalidField, mask_phone, normalize_email, normalize_phone

CARRIER_REFUSED = (
    "Nhà mạng chưa xác nhận số điện thoại này là thuê bao chính chủ đứng tên số định danh của "
    "bạn. Vui lòng dùng số đứng tên bạn, hoặc cập nhật thông tin thuê bao tại nhà mạng."
)
PHONE_ADD_CODE = CodeStep(PHONE_CHANGE, heading="Xác nhận số điện thoại mới",
                         title="Nhập mã OTP – Thêm số điện thoại nhận OTP",
                         check_endpoint="account.verify_phone",
                         resend_endpoint="account.resend_phone_otp")
ORGANISATION_PHONE = (
    "Nhà mạng chỉ xác nhận thuê bao chính chủ của cá nhân; tài khoản doanh nghiệp và cơ quan "
    "nhà nước đăng nhập bằng chứng thư số."
)


def _security_page(current: Viewer, error: str | None = None, status: int = 200, *,
                   field: str | None = None):
    """The sign-in methods page; `field` names the input the error is about."""
    account = current.account
    return page(
        "security.html", current, status, error=error, error_field=field,
        phones=[(phone.id, mask_phone(phone.phone), phone.is_default)
                for phone in account.phones],
        totp_enrolled=account.totp_secret is not None,
        certificates=[(row.id, row.common_name or "", row.issuer, row.serial_hex.upper(),
                       vietnam_time(row.not_after)[:10],
                       vietnam_time(row.last_used_at) if row.last_used_at else "")
                      for row in bindings.active_certificates(account)],
        usb_token_available=works_here(USB_TOKEN),
    )


@bp.route("/account/security")
def security():
    """Login methods: password, OTP phones, authenticator app, USB tokens and SIMs."""
    return _security_page(viewer())


@bp.route("/account/password", methods=["GET", "POST"])
def password():
    """Change the password: current one, new one (the policy with the citizen's data), again."""
    current = recent_viewer(".password")
    if request.method == "GET":
        return page("password.html", current, problems=[])
    problems = services.change_own_password(
        current.account, (request.form.get("current") or "")[:200],
        (request.form.get("password") or "")[:256], (request.form.get("confirm") or "")[:256],
        keep_sid=current.session.sid,
    )
    if problems:
        return page("password.html", current, 400, problems=problems)
    return redirect(url_for(".security", done="password"), 303)


@bp.route("/account/phones/add", methods=["POST"])
def add_phone():
    """A new OTP phone: the carrier must say it is the citizen's own, then an OTP proves it."""
    current = recent_viewer(".security")
    account = current.account
    if account.cccd is None:
        return _security_page(current, ORGANISATION_PHONE, 400)
    try:
        phone = normalize_phone((request.form.get("phone") or "")[:30])
    except InvalidField as exc:
        return _security_page(current, exc.message, 400, field="phone")
    if any(existing.phone == phone for existing in account.phones):
        return _security_page(current, "Số điện thoại này đã có trong tài khoản.", 400,
                              field="phone")
    if not phones.carrier_check_allowed(account.id):
        return _security_page(current, "Bạn đã kiểm tra quá nhiều số điện thoại hôm nay. "
                              "Vui lòng thử lại vào ngày mai.", 429)
    try:
        confirmed = phones.carrier_confirms(account, phone)
    except ConnectorUnavailable as exc:
        return _security_page(current, exc.user_message, 503)
    if not confirmed:
        phones.record_phone_refused(account, phone)
        return _security_page(current, CARRIER_REFUSED, 400, field="phone")
    otp_id = phones.begin_phone_add(account.id, phone, browser_id())
    PHONE_ADD_CODE.send(_challenge(account, otp_id), phone)
    return redirect(url_for(".verify_phone"), 303)


def _challenge(account, otp_id: str) -> Challenge:
    return Challenge(otp_id, PHONE_CHANGE, account_id=account.id, cccd=account.cccd,
                     ip=request.remote_addr)


def _phone_ways() -> OtherWays:
    return OtherWays(links=[("Quay lại trang phương thức đăng nhập", url_for(".security"))])


@bp.route("/account/phones/verify", methods=["GET", "POST"])
def verify_phone():
    """The OTP sent to the phone being added."""
    current = recent_viewer(".security")
    pending = phones.pending_phone_add(current.account.id, browser_id())
    if pending is None:
        return _security_page(current, "Yêu cầu thêm số điện thoại đã hết hạn. "
                              "Vui lòng thực hiện lại.", 400)
    if request.method == "GET":
        return PHONE_ADD_CODE.page(pending["otp"], {}, ways=_phone_ways())
    return PHONE_ADD_CODE.answer_code(
        pending["otp"], request.form.get("otp") or "", {},
        passed=lambda: _phone_added(current.account, pending["phone"]),
        exhausted=lambda: _phone_add_exhausted(current), ways=_phone_ways)


def _phone_added(account, phone: str):
    phones.end_phone_add(account.id)
    phones.add_phone(account, phone)
    return redirect(url_for(".security", done="phone_added"), 303)


def _phone_add_exhausted(current):
    phones.end_phone_add(current.account.id)
    return _security_page(current, "Bạn đã nhập sai mã OTP quá số lần cho phép. "
                          "Vui lòng thực hiện lại.", 400)


@bp.route("/account/phones/verify/resend", methods=["POST"])
def resend_phone_otp():
    """A new code to the phone being added (within the usual SMS limits)."""
    current = recent_viewer(".security")
    pending = phones.pending_phone_add(current.account.id, browser_id())
    if pending is None:
        return redirect(url_for(".security"), 303)
    return PHONE_ADD_CODE.answer_resend(_challenge(current.account, pending["otp"]),
                                        pending["phone"], {}, ways=_phone_ways)


@bp.route("/account/phones/remove", methods=["POST"])
def remove_phone():
    """Remove an OTP phone (never the last one)."""
    current = recent_viewer(".security")
    error = phones.remove_phone(current.account, form_int("phone_id") or 0)
    if error:
        return _security_page(current, error, 400)
    return redirect(url_for(".security", done="phone_removed"), 303)


@bp.route("/account/phones/default", methods=["POST"])
def default_phone():
    """Choose which phone receives the OTP by default."""
    current = recent_viewer(".security")
    error = phones.set_default_phone(current.account, form_int("phone_id") or 0)
    if error:
        return _security_page(current, error, 400)
    return redirect(url_for(".security", done="phone_default"), 303)


@bp.route("/account/totp", methods=["GET", "POST"])
def totp_app():
    """Enrol an authenticator app: scan the QR code (or type the key), then type a code."""
    current = recent_viewer(".totp_app")
    account = current.account
    if account.totp_secret is not None:
        return redirect(url_for(".security"), 303)
    error = None
    if request.method == "POST":
        error = totp.confirm_enrolment(account, (request.form.get("code") or "")[:12])
        if error is None:
            return redirect(url_for(".security", done="totp_enrolled"), 303)
    secret = totp.pending_secret(account)
    return page("totp.html", current, 400 if error else 200, error=error,
                qr=totp.provisioning_qr(account, secret),
                secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)))


@bp.route("/account/totp/remove", methods=["POST"])
def remove_totp():
    """Forget the authenticator app; the SMS OTP remains."""
    current = recent_viewer(".security")
    if current.account.totp_secret is not None:
        totp.remove(current.account)
    return redirect(url_for(".security", done="totp_removed"), 303)


@bp.route("/account/certificates/remove", methods=["POST"])
def remove_certificate():
    """Stop a certificate logging in (a lost token, say), never the last way in."""
    current = recent_viewer(".security")
    error = bindings.remove_certificate(provider().db.session, current.account,
                                          form_int("certificate_id") or 0)
    if error:
        return _security_page(current, error, 400)
    return redirect(url_for(".security", done="certificate_removed"), 303)


@bp.route("/account/email", methods=["GET", "POST"])
def email():
    """Contact e-mail: a single-use link proves the address."""
    current = recent_viewer(".email")
    if request.method == "GET":
        return page("email.html", current, error=None, sent_to=None)
    try:
        address = normalize_email((request.form.get("email") or "")[:254])
    except InvalidField as exc:
        return page("email.html", current, 400, error=exc.message, sent_to=None)
    if address is None:
        return page("email.html", current, 400, error="Vui lòng nhập địa chỉ thư điện tử.",
                    sent_to=None)
    limits = provider().limits
    if not limits.hit("account.email_links", current.account.id):
        until = clock_time(limits.resets_at("account.email_links", current.account.id))
        return page("email.html", current, 429, sent_to=None,
                    error=f"Bạn đã yêu cầu gửi thư quá nhiều lần. Vui lòng thử lại sau {until}.")
    services.send_email_link(current.account, address,
                             provider().external_url(url_for(".verify_email")))
    return page("email.html", current, error=None, sent_to=address)


@bp.route("/account/email/verify", methods=["GET", "POST"])
def verify_email():
    """The link from the e-mail: confirm with a button (mail scanners only ever GET)."""
    token = (request.values.get("token") or "")[:64]
    if request.method == "GET":
        valid = services.email_link_valid(token)
        return render_template("account/email_verify.html", token=token, valid=valid,
                               confirmed=False), 200 if valid else 400
    account = services.confirm_email(token)
    return render_template("account/email_verify.html", token="", valid=account is not None,
                           confirmed=account is not None), 200 if account else 400
