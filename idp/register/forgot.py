"""Forgot password: CCCD → OTP to the account's OTP phone → new password.

The answer to the CCCD form is the same whether or not an account exists; the
OTP screen names no phone. A reset ends every session (portals are told) and
revokes every refresh token, then a notice SMS goes to the OTP phone.
"""

from __future__ import annotations

import secrets
import time

from flask import Blueprint, abort, make_response, redirect, render_template, request, url_for
from sqlalchemy import select

from idp.accounts import change_password
from idp.audit import record_event
from idp.errors import error_page
from idp.identity import InvalidField, validate_cccd
from idp.oidc.backchannel import notify_portals
from idp.oidc.grants import revoke_grant
from idp.otp import CheckOutcome, check_otp, send_otp
from idp.provider import provider
from idp.security.captcha import check_captcha, new_captcha
from idp.security.passwords import check_password_policy, password_user_inputs
from idp.sessions import browser_id, end_account_sessions
from idp.store.models import Account

bp = Blueprint("forgot", __name__, url_prefix="/forgot")

EXPIRED = "Phiên đặt lại mật khẩu đã hết hạn. Vui lòng thực hiện lại từ đầu."
SENT_NOTICE = ("Nếu số định danh này đã có tài khoản, mã OTP đã được gửi tới số điện thoại "
               "nhận OTP của tài khoản.")


def _reset() -> dict:
    reset_id = request.values.get("f", "")
    record = provider().state.get(f"fp:{reset_id}") if 0 < len(reset_id) <= 64 else None
    if record is None or not secrets.compare_digest(record["browser"], browser_id()):
        abort(make_response(error_page(400, EXPIRED)))
    record["id"] = reset_id
    return record


def _save(record: dict) -> None:
    ttl = provider().settings.registration.ttl
    remaining = record["created"] + ttl - time.time()
    provider().state.put(f"fp:{record['id']}", record, max(1, remaining))


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
    except InvalidField as exc:
        return _start_page(exc.message, cccd, 400)
    p = provider()
    cfg = p.settings.registration
    # Both caps are counted before the account is looked up, so they answer alike for
    # known and unknown CCCDs.
    if (p.state.incr(f"fp-ip:{request.remote_addr}", 3600) > cfg.attempts_per_ip_per_hour
            or p.state.incr(f"fp-cccd:{cccd}", 3600) > cfg.attempts_per_cccd_per_hour):
        return _start_page("Bạn đã thử quá nhiều lần. Vui lòng thử lại sau một giờ.", cccd, 429)
    account = p.db.session.scalar(select(Account).where(Account.cccd == cccd))
    record = {"id": secrets.token_urlsafe(24), "browser": browser_id(), "created": time.time(),
              "account_id": account.id if account and account.status == "active" else None,
              "proven": False}
    _save(record)
    if record["account_id"] is not None and account.default_phone is not None:
        # A send refused by the SMS limits goes on like an unknown CCCD (no code, same page):
        # a 429 here only a known CCCD could get would say that it exists.
        send_otp(f"fp-{record['id']}", account.default_phone.phone,
                 purpose="đặt lại mật khẩu", ip=request.remote_addr, account_id=account.id)
    record_event("password.reset_start", "success",
                 account_id=record["account_id"], known=record["account_id"] is not None)
    return redirect(url_for(".otp", f=record["id"]), 303)


def _otp_page(record: dict, error: str | None = None, status: int = 200):
    # No masked phone and no countdown: either would tell a known CCCD from an unknown one.
    return render_template(
        "otp.html", phone="", seconds_left=0, resend_in=0, heading="Đặt lại mật khẩu",
        notice=SENT_NOTICE, form_action=url_for(".otp"), resend_action=url_for(".resend"),
        hidden={"f": record["id"]}, error=error,
    ), status


@bp.route("/otp", methods=["GET", "POST"])
def otp():
    """The code sent to the account's OTP phone (none went out for an unknown CCCD)."""
    record = _reset()
    if request.method == "GET":
        return _otp_page(record)
    result = check_otp(f"fp-{record['id']}", (request.form.get("otp") or "")[:12])
    if result.outcome is CheckOutcome.OK and record["account_id"] is not None:
        record["proven"] = True
        _save(record)
        return redirect(url_for(".password", f=record["id"]), 303)
    # No code (unknown CCCD) reports EXPIRED, not EXHAUSTED, on the last try: end both alike.
    if result.outcome is CheckOutcome.EXHAUSTED or (
            result.outcome is CheckOutcome.EXPIRED and result.tries_left <= 0):
        provider().state.delete(f"fp:{record['id']}")
        return error_page(400, "Bạn đã nhập sai mã OTP quá số lần cho phép. "
                          "Vui lòng thực hiện lại từ đầu.")
    # An unknown CCCD has no code: it fails like a wrong code, never differently.
    return _otp_page(record, f"Mã OTP không đúng hoặc đã hết hiệu lực. "
                     f"Bạn còn {max(result.tries_left, 0)} lần thử.", 400)


@bp.route("/otp/resend", methods=["POST"])
def resend():
    record = _reset()
    account = provider().db.session.get(Account, record["account_id"] or 0)
    if account is not None and account.default_phone is not None:
        # Whatever the SMS limits say, answer as for an unknown CCCD (which never has a
        # code); the refusal is in the audit trail (otp.send refused).
        send_otp(f"fp-{record['id']}", account.default_phone.phone,
                 purpose="đặt lại mật khẩu", ip=request.remote_addr, account_id=account.id)
    return redirect(url_for(".otp", f=record["id"]), 303)


@bp.route("/password", methods=["GET", "POST"])
def password():
    """The new password; then every session and refresh token of the account ends."""
    record = _reset()
    if not record["proven"]:
        abort(make_response(error_page(400, EXPIRED)))
    p = provider()
    account = p.db.session.get(Account, record["account_id"])
    if request.method == "GET":
        return render_template("forgot/password.html", reset_id=record["id"], problems=[])
    secret = (request.form.get("password") or "")[:256]
    problems = check_password_policy(
        secret,
        password_user_inputs(account.full_name, account.cccd, account.birthdate,
                             account.default_phone.phone if account.default_phone else None),
        min_score=p.settings.passwords.min_zxcvbn_score,
    )
    if secret != (request.form.get("confirm") or ""):
        problems.append("Mật khẩu nhập lại không khớp.")
    if problems:
        return render_template("forgot/password.html", reset_id=record["id"],
                               problems=problems), 400
    families = change_password(p.db.session, account, secret, p.passwords)
    for family in families:
        revoke_grant(family, "password reset")
    for ended in end_account_sessions(account.id):
        notify_portals(ended)
    p.state.delete(f"fp:{record['id']}")
    if account.default_phone is not None:
        p.sms.send(account.default_phone.phone,
                   "Mật khẩu tài khoản định danh của bạn vừa được đặt lại. Nếu không phải bạn "
                   "thực hiện, hãy gọi ngay tổng đài 18001096.")
    record_event("password.reset", "success", account_id=account.id,
                 revoked_families=len(families))
    return render_template("forgot/done.html")
