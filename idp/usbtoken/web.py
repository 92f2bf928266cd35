"""The USB-token blueprint, its challenge endpoint, and the signing widget every page shares."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from idp.audit import record_event
from idp.certificates.challenges import issue_challenge
from idp.certificates.refusals import CertificateLoginRefused
from idp.certificates.registration import ACCOUNT_TYPES
from idp.certificates.trust import trust_configured
from idp.certificates.verification import provider_origin
from idp.interaction import load_interaction
from idp.provider import provider
from idp.security.headers import allow_connect
from idp.sessions import browser_id, current_session

bp = Blueprint("usb", __name__)

NO_CHALLENGE = "Phiên làm việc đã hết hạn hoặc không hợp lệ. Vui lòng tải lại trang."
TOO_MANY = "Bạn đã yêu cầu ký số quá nhiều lần. Vui lòng thử lại sau."


def usb_token_available() -> bool:
    """Whether level 3 can be reached with a USB token here: some trusted root CA is
    configured to check its certificate against."""
    return trust_configured()


def challenge_purpose(flow: str, ref: str) -> str | None:
    """What a challenge asked for with `flow` and `ref` is bound to, if that is open to
    this browser: a login interaction, a registration type, the logged-in account."""
    if flow == "login" and load_interaction(ref, browser_id()) is not None:
        return f"login:{ref}"
    if flow == "register" and ref in ACCOUNT_TYPES:
        return f"register:{ref}"
    if flow == "account" and (session := current_session()) is not None:
        return f"account:{session.account_id}"
    return None


@bp.route("/usb/challenge", methods=["POST"])
def challenge():
    """A fresh one-time challenge for the page's script to hand to the signing agent."""
    purpose = challenge_purpose((request.form.get("flow") or "")[:16],
                                (request.form.get("ref") or "")[:64])
    if purpose is None:
        return {"message": NO_CHALLENGE}, 400
    value = issue_challenge(purpose, browser_id(), request.remote_addr)
    if value is None:
        return {"message": TOO_MANY}, 429
    return {"challenge": value, "origin": provider_origin()}, 200, {"Cache-Control": "no-store"}


def signer_page(template: str, *, flow: str, ref: str, action: str, button: str,
                hidden: dict[str, str] | None = None, error: str | None = None,
                status: int = 200, **context):
    """Render a page with the signing widget: the page's script may call the agent."""
    agent_url = provider().settings.usb_token.agent_url
    allow_connect(agent_url)
    signer = {"agent_url": agent_url, "flow": flow, "ref": ref, "action": action,
              "button": button, "hidden": hidden or {},
              "challenge_url": url_for("usb.challenge")}
    return render_template(template, signer=signer, error=error, **context), status


def audit_refusal(event: str, exc: CertificateLoginRefused, **detail) -> None:
    """Audit a refused signature: the reason code and the operators' detail (no personal data)."""
    record_event(event, "refused", reason=exc.reason, detail=exc.detail[:300], **detail)
