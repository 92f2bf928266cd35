"""Forgot password pages: CCCD → OTP → new password (the rules: password_reset.py).

The answer to the CCCD form is the same whether or not an account exists; the
OTP screen names no phone and shows no countdown.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from idp.deadline import extend_deadline, offer_more_time
from idp.errors import error_page, refuse
from idp.login.outcome import keep_login_from_query, ways_back_to_login
from idp.otp.codes import RESET, CheckOutcome
from idp.otp.step import CodeStep, OtherWays
from idp.provider import provider
from idp.register.password_reset import (
    CodeCheck,
    PasswordReset,
    TooManyResetAttempts,
    check_reset_code,
    finish_password_reset,
    load_password_reset,
    new_password_problems,
    queue_reset_code,
    save_password_reset,
    start_password_reset,
)
from idp.security.captcha import check_captcha, new_captcha
from idp.sessions import browser_id
from idp.vntime import clock_time
from vnid.person import InvalidField, validate_cccd

bp = Blueprint("forgot", __name__, url_prefix="/forgot")

EXPIRED = "Phiên đặt lại mật khẩu đã hết hạn. Vui lòng thực hiện lại từ đầu."
# No masked phone, no countdown and no "not sent": each would tell a known CCCD from an
# unknown one.
FORGOT_CODE = CodeStep(
    RESET, heading="Đặt lại mật khẩu", title="Nhập mã OTP – Đặt lại mật khẩu",
    check_endpoint="forgot.otp", resend_endpoint="forgot.resend", reveal_phone=False,
    notice="Nếu số định danh này đã có tài khoản, mã OTP đã được gửi tới số điện thoại nhận "
           "OTP của tài khoản.")
WAYS = OtherWays(counter=True)


def _reset() -> PasswordReset:
    reset = load_password_reset(request.values.get("f", ""), browser_id())
    if reset is None:
        refuse(EXPIRED, actions=[("Đặt lại mật khẩu từ đầu", url_for(".start"))])
    offer_more_time(reset.created + provider().settings.registration.ttl, "forgot.extend",
                    f=reset.id)
    return reset


@bp.route("/extend", methods=["POST"])
def extend():
    """More time for this reset, asked by the page before it runs out."""
    return extend_deadline(_reset(), save_password_reset, provider().settings.registration.ttl)


def _start_page(error: str | None = None, cccd: str = "", status: int = 200,
                errors: dict[str, str] | None = None):
    return render_template("forgot/start.html", error=error, cccd=cccd, errors=errors or {},
                           captcha_id=new_captcha()), status


@bp.route("", methods=["GET", "POST"])
def start():
    """Ask for the CCCD (and a captcha)."""
    if request.method == "GET":
        keep_login_from_query()
        return _start_page()
    cccd = (request.form.get("cccd") or "").strip()[:20]
    if request.form.get("captcha_refresh"):
        return _start_page(cccd=cccd)
    if not check_captcha(request.form.get("captcha_id", ""), request.form.get("captcha", "")):
        return _start_page(cccd=cccd, status=400,
                           errors={"captcha": "Mã kiểm tra không đúng, vui lòng nhập mã mới."})
    try:
        cccd = validate_cccd(cccd)
        reset = start_password_reset(cccd, browser_id(), request.remote_addr)
    except InvalidField as exc:
        return _start_page(cccd=cccd, status=400, errors={"cccd": exc.message})
    except TooManyResetAttempts as exc:
        return _start_page("Có quá nhiều yêu cầu đặt lại mật khẩu từ mạng của bạn. Vui lòng thử "
                           f"lại sau {clock_time(exc.until)}.", cccd, 429)
    queue_reset_code(reset, request.remote_addr)
    return redirect(url_for(".otp", f=reset.id), 303)


@bp.route("/otp", methods=["GET", "POST"])
def otp():
    """The code sent to the account's OTP phone (none went out for an unknown CCCD)."""
    reset = _reset()
    hidden = {"f": reset.id}
    if request.method == "GET":
        return FORGOT_CODE.page(reset.otp_id, hidden, ways=WAYS)
    outcome, tries_left = check_reset_code(reset, (request.form.get("otp") or "")[:12])
    if outcome is CodeCheck.PROVEN:
        return redirect(url_for(".password", f=reset.id), 303)
    if outcome is CodeCheck.ENDED:
        return error_page(400, "Bạn đã nhập sai mã OTP quá số lần cho phép. Vui lòng thực hiện "
                          "lại từ đầu.", actions=[("Đặt lại mật khẩu từ đầu", url_for(".start")),
                                                  *ways_back_to_login()[1:]])
    return FORGOT_CODE.page(reset.otp_id, hidden, status=400, ways=WAYS,
                            error=FORGOT_CODE.wrong_code_message(CheckOutcome.WRONG, tries_left))


@bp.route("/otp/resend", methods=["POST"])
def resend():
    """Another code, queued like the first; the page never says whether one went out."""
    reset = _reset()
    queue_reset_code(reset, request.remote_addr)
    return redirect(url_for(".otp", f=reset.id), 303)


@bp.route("/password", methods=["GET", "POST"])
def password():
    """The new password; then every session and refresh token of the account ends."""
    reset = _reset()
    if not reset.proven:
        refuse(EXPIRED)
    if request.method == "GET":
        return render_template("forgot/password.html", reset_id=reset.id, problems=[])
    secret = (request.form.get("password") or "")[:256]
    problems = new_password_problems(reset, secret, request.form.get("confirm") or "")
    if problems:
        return render_template("forgot/password.html", reset_id=reset.id,
                               problems=problems), 400
    finish_password_reset(reset, secret)
    return render_template("forgot/done.html", actions=ways_back_to_login(reset.cccd))
