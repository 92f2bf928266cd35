"""Login screens of the lost-phone self-service: new phone → carrier check → OTP → logged in.

Offered on the OTP screen once the password step passed for this login; the
rules are in `recovery`. The login then completes like any other.
"""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for

from connectors.base import ConnectorUnavailable
from idp.account.recovery import MESSAGES, PhoneCheck, check_new_phone, recover_phone
from idp.account.web import bp
from idp.interaction import Interaction
from idp.interaction.methods import PASSWORD_SMS_RECOVERY
from idp.login.outcome import (
    current_login,
    pending_account,
    second_factor_exhausted,
    second_factor_passed,
)
from idp.login.throttle import CITIZENS
from idp.otp.codes import PHONE_CHANGE, Challenge
from idp.otp.step import CodeStep, OtherWays
from idp.provider import provider
from idp.security.headers import allow_form_target
from idp.store.models import Account
from vnid.person import InvalidField, normalize_phone

LOST_PHONE_CODE = CodeStep(PHONE_CHANGE, heading="Xác thực số điện thoại mới",
                          title="Nhập mã OTP – Đổi số điện thoại nhận OTP",
                          check_endpoint="account.lost_phone_otp",
                          resend_endpoint="account.lost_phone_resend")


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
    LOST_PHONE_CODE.send(_challenge(interaction, account), phone)
    return redirect(url_for(".lost_phone_otp", tx=interaction.id), 303)


def _challenge(interaction: Interaction, account: Account) -> Challenge:
    return Challenge(f"lost-{interaction.id}", PHONE_CHANGE, account_id=account.id,
                     cccd=account.cccd, ip=request.remote_addr,
                     device=CITIZENS.known_device(account.cccd))


def _new_phone(interaction: Interaction) -> str:
    record = provider().state.get(f"lost:{interaction.id}")
    if record is None:
        abort(redirect(url_for(".lost_phone", tx=interaction.id), 303))
    return record["phone"]


def _ways(interaction: Interaction) -> OtherWays:
    return OtherWays(counter=True, links=[
        ("Nhập số điện thoại khác", url_for(".lost_phone", tx=interaction.id)),
        ("Quay lại bước nhập mã OTP của số cũ", url_for("login.otp", tx=interaction.id))])


@bp.route("/login/lost-phone/otp", methods=["GET", "POST"])
def lost_phone_otp():
    """The code sent to the new phone; right → the phone is changed and the login completes."""
    interaction, account = _login()
    phone = _new_phone(interaction)
    # A right code ends in the redirect to the portal.
    if "redirect_uri" in interaction.params:
        allow_form_target(interaction.params["redirect_uri"])
    hidden = {"tx": interaction.id}
    if request.method == "GET":
        return LOST_PHONE_CODE.page(f"lost-{interaction.id}", hidden, ways=_ways(interaction))
    return LOST_PHONE_CODE.answer_code(
        f"lost-{interaction.id}", request.form.get("otp") or "", hidden,
        passed=lambda: _recovered(interaction, account, phone),
        exhausted=lambda: _exhausted(interaction, account),
        spent=lambda: _exhausted(interaction, account, counted=False),
        ways=lambda: _ways(interaction))


def _recovered(interaction: Interaction, account: Account, phone: str):
    provider().state.delete(f"lost:{interaction.id}")
    recover_phone(account, phone)
    return second_factor_passed(interaction, account, PASSWORD_SMS_RECOVERY, "login.otp")


def _exhausted(interaction: Interaction, account: Account, counted: bool = True):
    provider().state.delete(f"lost:{interaction.id}")
    return second_factor_exhausted(interaction, account, counted)


@bp.route("/login/lost-phone/resend", methods=["POST"])
def lost_phone_resend():
    """A new code to the new phone, within the usual SMS limits."""
    interaction, account = _login()
    return LOST_PHONE_CODE.answer_resend(_challenge(interaction, account),
                                         _new_phone(interaction), {"tx": interaction.id},
                                         ways=lambda: _ways(interaction))
