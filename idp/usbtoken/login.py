"""Login with a USB token: the level-3 method, and the step-up of a level-2 session.

A portal asking for level 3 lands here (see `idp.oidc.decision.decide`); so does anyone
who follows "Đăng nhập bằng USB ký số" from the password page. When the browser already
has a session below the level asked for, the token must be that session's account's.
"""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import redirect, request, url_for

from idp.audit import record_event
from idp.certificates.bindings import login_account
from idp.certificates.refusals import CertificateLoginRefused
from idp.certificates.step_up import requested_level, step_up_account
from idp.certificates.verification import SignedChallenge, verify_signed_challenge
from idp.errors import refuse
from idp.interaction import (
    Interaction,
    end_interaction,
)
from idp.interaction.methods import USB_TOKEN
from idp.login.outcome import current_login, login_succeeded
from idp.oidc.authorize import (
    UnmetAuthenticationRequirements,
    answer_with_error,
    validated_grant,
)
from idp.provider import provider
from idp.security.headers import allow_form_target
from idp.sessions import browser_id
from idp.usbtoken.web import audit_refusal, bp, signer_page, usb_token_available

NOT_CONFIGURED = "Đăng nhập bằng USB ký số chưa được hệ thống hỗ trợ."


def _interaction() -> Interaction:
    if not usb_token_available():
        refuse(NOT_CONFIGURED, 404)
    return current_login()


def _page(interaction: Interaction, error: str | None = None, status: int = 200):
    # A good signature may end in the redirect to the portal.
    if "redirect_uri" in interaction.params:
        allow_form_target(interaction.params["redirect_uri"])
    return signer_page(
        "usbtoken/login.html", flow="login", ref=interaction.id, action=url_for(".login"),
        button="Ký số và đăng nhập", hidden={"tx": interaction.id}, error=error,
        status=status, interaction=interaction,
        level3=requested_level(interaction) >= USB_TOKEN.level,
        step_up=step_up_account(interaction) is not None,
    )


@bp.route("/login/usb", methods=["GET", "POST"])
def login():
    """The signing page; on POST, the signed challenge, then the session."""
    interaction = _interaction()
    if request.method == "GET":
        return _page(interaction)
    try:
        identity = verify_signed_challenge(SignedChallenge.from_form(request.form),
                                           f"login:{interaction.id}", browser_id())
        account = login_account(provider().db.session, identity,
                                step_up_account_id=step_up_account(interaction))
    except CertificateLoginRefused as exc:
        audit_refusal("login.usb", exc, client_id=interaction.client_id)
        return _page(interaction, exc.message_vi, 400)
    return login_succeeded(interaction, account, USB_TOKEN)


@bp.route("/login/usb/cancel", methods=["POST"])
def cancel():
    """Give up the token: a portal that demanded level 3 is told so, never given less."""
    interaction = _interaction()
    if interaction.return_to or requested_level(interaction) < USB_TOKEN.level:
        return redirect(url_for("login.password", tx=interaction.id), 303)
    end_interaction(interaction)
    record_event("login.usb", "cancelled", client_id=interaction.client_id)
    state = interaction.params.get("state")
    try:
        grant = validated_grant(interaction.params)
    except OAuth2Error as error:  # the portal was removed or changed meanwhile
        return answer_with_error(error, state)
    return answer_with_error(UnmetAuthenticationRequirements(
        "The user did not authenticate at level 3.", redirect_uri=grant.redirect_uri), state)
