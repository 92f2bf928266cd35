"""Adding a USB token from the account console: a level-2 account whose identity the
certificate carries becomes level 3."""

from __future__ import annotations

from flask import redirect, request, url_for

from idp.account.web import Viewer, recent_viewer
from idp.audit import record_event
from idp.certificates.bindings import add_to_account
from idp.certificates.refusals import CertificateLoginRefused
from idp.certificates.verification import SignedChallenge, verify_signed_challenge
from idp.provider import provider
from idp.sessions import browser_id
from idp.usbtoken.web import audit_refusal, bp, signer_page, usb_token_available


def _page(current: Viewer, error: str | None = None, status: int = 200):
    return signer_page(
        "usbtoken/add.html", flow="account", ref="", action=url_for(".add_token"),
        button="Ký số để thêm USB ký số", error=error, status=status,
        account=current.account, done=None,
    )


@bp.route("/account/usb", methods=["GET", "POST"])
def add_token():
    """Sign with the token; its certificate must carry the account's own identity."""
    current = recent_viewer("usb.add_token")
    if not usb_token_available():
        return redirect(url_for("account.security"), 303)
    if request.method == "GET":
        return _page(current)
    account = current.account
    try:
        identity = verify_signed_challenge(SignedChallenge.from_form(request.form),
                                           f"account:{account.id}", browser_id())
        raised = add_to_account(provider().db.session, account, identity)
    except CertificateLoginRefused as exc:
        audit_refusal("usb_token.add", exc, account_id=account.id)
        return _page(current, exc.message_vi, 400)
    record_event("usb_token.add", "success", account_id=account.id,
                 fingerprint=identity.sha256_fingerprint[:16], ial_raised=raised)
    done = "certificate_added_ial3" if raised else "certificate_added"
    return redirect(url_for("account.security", done=done), 303)
