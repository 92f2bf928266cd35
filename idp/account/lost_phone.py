"""Login screens of the lost-phone self-service: new phone → carrier check → OTP → logged in.

Offered on the OTP screen once the password step passed for this login; the
rules are in `recovery`. The login then completes like any other.
"""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for

from connectors.base import ConnectorUnavailable
from idp.account.recovery import MESSAGES, PhoneCheck, check_new_phone, recover_phone
from idp.account.web import bp
from idp.identity import InvalidField, normalize_phone
from idp.interaction import Interaction
from idp.levels import PASSWORD_SMS_AMR
from idp.login.outcome import (
    current_login,
    pending_account,
    second_factor_exhausted,
    second_factor_passed,
)
from idp.otp import SEND_MESSAGES, CheckOutcome, SendOutcome, check_otp, render_otp_page, send_otp
from idp.provider import provider
from idp.security.headers import allow_form_target
from idp.store.models import Account

PURPOSE = "đổi số điện thoại nhận OTP"


def _login() -> tuple[Interaction, Account]:
    """This browser's login, past its password step (else back to the password page)."""
    interaction = current_login()
    return interaction, pending_account(interaction)


def _form(interaction: Interaction, phone: str = "", error: str | None = None,
          status: int = 200, refused: bool = False):
    return render_template("account/lost_phone.html", interaction=interaction, phone=phone,
                           error=error, refused=refused), status


@bp.route("/login/lost-phone", methods=["GET", "POST"])
def lost_phone():
    """The new phone number; the carrier must say it is registered to this citizen."""
    interaction, account = _login()
    if request.method == "GET":
        return _form(interaction)
    typed = (request.form.get("phone") or "").strip()[:30]
    try:
        phone = normalize_phone(typed)
    except InvalidField as exc:
        return _form(interaction, typed, exc.message, 400)
    try:
        outcome = check_new_phone(account, phone, interaction.id)
    except ConnectorUnavailable as exc:
        return _form(interaction, typed, exc.user_message, 503)
    if outcome is not PhoneCheck.CONFIRMED:
        status = 429 if outcome is PhoneCheck.LIMITED else 400
        return _form(interaction, typed, MESSAGES[outcome], status,
                     refused=outcome is PhoneCheck.REFUSED)
    provider().state.put(f"lost:{interaction.id}", {"phone": phone},
                         provider().settings.session.transaction_ttl)
    sent = send_otp(f"lost-{interaction.id}", phone, purpose=PURPOSE, ip=request.remote_addr,
                    account_id=account.id)
    if sent.outcome not in (SendOutcome.SENT, SendOutcome.COOLDOWN):
        return _form(interaction, typed, SEND_MESSAGES[sent.outcome].format(
            wait=sent.wait_seconds), 429)
    return redirect(url_for(".lost_phone_otp", tx=interaction.id), 303)


def _new_phone(interaction: Interaction) -> str:
    record = provider().state.get(f"lost:{interaction.id}")
    if record is None:
        abort(redirect(url_for(".lost_phone", tx=interaction.id), 303))
    return record["phone"]


def _otp_page(interaction: Interaction, error: str | None = None, status: int = 200):
    # A right code ends in the redirect to the portal.
    if "redirect_uri" in interaction.params:
        allow_form_target(interaction.params["redirect_uri"])
    return render_otp_page(
        f"lost-{interaction.id}", status=status, heading="Xác thực số điện thoại mới",
        form_action=url_for(".lost_phone_otp"), resend_action=url_for(".lost_phone_resend"),
        hidden={"tx": interaction.id}, error=error,
    )


@bp.route("/login/lost-phone/otp", methods=["GET", "POST"])
def lost_phone_otp():
    """The code sent to the new phone; right → the phone is changed and the login completes."""
    interaction, account = _login()
    phone = _new_phone(interaction)
    if request.method == "GET":
        return _otp_page(interaction)
    result = check_otp(f"lost-{interaction.id}", (request.form.get("otp") or "")[:12])
    if result.outcome is CheckOutcome.OK:
        provider().state.delete(f"lost:{interaction.id}")
        recover_phone(account, phone)
        return second_factor_passed(interaction, account, PASSWORD_SMS_AMR, "pwd+sms:recovery",
                                    "login.otp")
    if result.outcome is CheckOutcome.EXHAUSTED:
        provider().state.delete(f"lost:{interaction.id}")
        return second_factor_exhausted(interaction, account)
    return _otp_page(interaction, "Mã OTP không đúng hoặc đã hết hiệu lực. "
                     f"Bạn còn {max(result.tries_left, 0)} lần thử.", 400)


@bp.route("/login/lost-phone/resend", methods=["POST"])
def lost_phone_resend():
    """A new code to the new phone, within the usual SMS limits."""
    interaction, account = _login()
    phone = _new_phone(interaction)
    sent = send_otp(f"lost-{interaction.id}", phone, purpose=PURPOSE, ip=request.remote_addr,
                    account_id=account.id)
    if sent.outcome is not SendOutcome.SENT:
        return _otp_page(interaction,
                         SEND_MESSAGES[sent.outcome].format(wait=sent.wait_seconds), 429)
    return redirect(url_for(".lost_phone_otp", tx=interaction.id), 303)
