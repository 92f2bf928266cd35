"""Forgot password pages: CCCD → OTP → new password (the rules: password_reset.py).

The answer to the CCCD form is the same whether or not an account exists; the
OTP screen names no phone and shows no countdown.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from idp.errors import error_page, refuse
from idp.identity import InvalidField, validate_cccd
from idp.register.password_reset import (
    CodeCheck,
    PasswordReset,
    TooManyResetAttempts,
    check_reset_code,
    finish_password_reset,
    load_password_reset,
    new_password_problems,
    resend_reset_code,
    start_password_reset,
)
from idp.security.captcha import check_captcha, new_captcha
from idp.sessions import browser_id

bp = Blueprint("forgot", __name__, url_prefix="/forgot")

EXPIRED = "Phiên đặt lại mật khẩu đã hết hạn. Vui lòng thực hiện lại từ đầu."
SENT_NOTICE = ("Nếu số định danh này đã có tài khoản, mã OTP đã được gửi tới số điện thoại "
               "nhận OTP của tài khoản.")


def _reset() -> PasswordReset:
    reset = load_password_reset(request.values.get("f", ""), browser_id())
    if reset is None:
        refuse(EXPIRED)
    return reset


def _start_page(error: str | None = None, cccd: str = "", status: int = 200):
    return render_template("forgot/start.html", error=error, cccd=cccd,
                           captcha_id=new_captcha()), status


@bp.route("", methods=["GET", "POST"])
def start():
    """Ask for the CCCD (and a captcha)."""
    if request.method == "GET":
        return _start_page()
    cccd = (request.form.get("cccd") or "").strip()[:20]
    if not check_captcha(request.form.get("captcha_id", ""), request.form.get("captcha", "")):
        return _start_page("Mã kiểm tra không đúng, vui lòng nhập lại.", cccd, 400)
    try:
        cccd = validate_cccd(cccd)
        reset = start_password_reset(cccd, browser_id(), request.remote_addr)
    except InvalidField as exc:
        return _start_page(exc.message, cccd, 400)
    except TooManyResetAttempts:
        return _start_page("Bạn đã thử quá nhiều lần. Vui lòng thử lại sau một giờ.", cccd, 429)
    return redirect(url_for(".otp", f=reset.id), 303)


def _otp_page(reset: PasswordReset, error: str | None = None, status: int = 200):
    # No masked phone and no countdown: either would tell a known CCCD from an unknown one.
    return render_template(
        "otp.html", phone="", seconds_left=0, resend_in=0, heading="Đặt lại mật khẩu",
        notice=SENT_NOTICE, form_action=url_for(".otp"), resend_action=url_for(".resend"),
        hidden={"f": reset.id}, error=error,
    ), status


@bp.route("/otp", methods=["GET", "POST"])
def otp():
    """The code sent to the account's OTP phone (none went out for an unknown CCCD)."""
    reset = _reset()
    if request.method == "GET":
        return _otp_page(reset)
    outcome, tries_left = check_reset_code(reset, (request.form.get("otp") or "")[:12])
    if outcome is CodeCheck.PROVEN:
        return redirect(url_for(".password", f=reset.id), 303)
    if outcome is CodeCheck.ENDED:
        return error_page(400, "Bạn đã nhập sai mã OTP quá số lần cho phép. "
                          "Vui lòng thực hiện lại từ đầu.")
    return _otp_page(reset, f"Mã OTP không đúng hoặc đã hết hiệu lực. "
                     f"Bạn còn {tries_left} lần thử.", 400)


@bp.route("/otp/resend", methods=["POST"])
def resend():
    reset = _reset()
    resend_reset_code(reset, request.remote_addr)
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
    return render_template("forgot/done.html")
