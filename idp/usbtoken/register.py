"""Registration with a USB token for Công dân, Doanh nghiệp and Cơ quan nhà nước.

Sign a challenge → the identity read from the verified certificate is shown → the
registrant adds an e-mail (and a citizen the birth date, which the certificate lacks
and the CCCD partly encodes) → a level-3 account exists, the certificate bound to it.
The signature is taken here; the steps after it are `idp.register.certificate`'s, which
the SIM signature's registration shares.
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from idp.audit import record_event
from idp.certificates.bindings import account_for
from idp.certificates.refusals import CertificateLoginRefused
from idp.certificates.registration import ACCOUNT_TYPE_NAMES, check_kind, start_registration
from idp.certificates.verification import SignedChallenge, verify_signed_challenge
from idp.errors import refuse
from idp.provider import provider
from idp.sessions import browser_id
from idp.usbtoken.login import NOT_CONFIGURED
from idp.usbtoken.web import audit_refusal, bp, signer_page, usb_token_available


def _available() -> None:
    if not usb_token_available():
        refuse(NOT_CONFIGURED, 404)


def _sign_page(account_type: str, error: str | None = None, status: int = 200):
    return signer_page(
        "usbtoken/register.html", flow="register", ref=account_type,
        action=url_for(".register", account_type=account_type), button="Ký số để đăng ký",
        error=error, status=status, account_type=account_type,
        type_name=ACCOUNT_TYPE_NAMES[account_type],
    )


@bp.route("/register/usb/<any(citizen, enterprise, agency):account_type>",
          methods=["GET", "POST"])
def register(account_type: str):
    """Sign with the token; the certificate must fit the account type chosen."""
    _available()
    if request.method == "GET":
        return _sign_page(account_type)
    try:
        identity = verify_signed_challenge(SignedChallenge.from_form(request.form),
                                           f"register:{account_type}", browser_id())
        check_kind(identity, account_type)
    except CertificateLoginRefused as exc:
        audit_refusal("register.usb", exc, account_type=account_type)
        return _sign_page(account_type, exc.message_vi, 400)
    # The registrant has just proved they hold a certificate for this identity, so
    # saying that it has an account tells them nothing they could not know.
    if account_for(provider().db.session, identity) is not None:
        record_event("register.usb", "exists", account_type=account_type)
        return render_template("usbtoken/exists.html", type_name=ACCOUNT_TYPE_NAMES[account_type])
    registration = start_registration(identity, browser_id())
    record_event("register.check", "success", method="usb_token", account_type=account_type)
    return redirect(url_for("register.confirm_certificate", r=registration.id), 303)
