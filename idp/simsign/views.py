"""Routes of the SIM signature: phone number, waiting page, status polls, cancel; for login
(and step-up), for registration of a Công dân or Doanh nghiệp account, and for adding a
SIM to an account from its console.

Every flow's hidden fields name it: `tx` (a login interaction), `t` (a registration's
account type) or `acct` (the console)."""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    abort,
    redirect,
    render_template,
    request,
    url_for,
)

from connectors.pki import CertificateIdentity
from idp.account.web import recent_viewer
from idp.audit import record_event
from idp.certificates.bindings import account_for, add_to_account, login_account
from idp.certificates.refusals import CertificateLoginRefused
from idp.certificates.registration import ACCOUNT_TYPE_NAMES, check_kind, start_registration
from idp.certificates.step_up import requested_level, step_up_account
from idp.errors import refuse
from idp.interaction import Interaction
from idp.interaction.methods import SIM_SIGNATURE
from idp.login.outcome import current_login, login_succeeded
from idp.provider import provider
from idp.sessions import browser_id
from idp.simsign.service import (
    MESSAGES_VI,
    SimRefused,
    SimRequest,
    cancel_request,
    poll_request,
    sim_available,
    start_request,
)
from vnid.person import InvalidField, normalize_phone

bp = Blueprint("sim", __name__)
NOT_CONFIGURED = "Đăng nhập bằng SIM ký số chưa được hệ thống hỗ trợ."
CANCELLED = "Đã hủy yêu cầu ký số."
EXISTS = ("Đã có tài khoản gắn với chứng thư số trên SIM này. Vui lòng đăng nhập bằng SIM ký "
          "số.")
REGISTER_TYPES = ("citizen", "enterprise")
NO_STORE = {"Cache-Control": "no-store"}


def _available() -> None:
    if not sim_available():
        refuse(NOT_CONFIGURED, 404)


def _interaction() -> Interaction:
    _available()
    return current_login()


def _phone_page(form: dict[str, str], phone: str = "", error: str | None = None,
                status: int = 200, **context):
    """The phone-number form; `form` holds the hidden fields of this flow."""
    return render_template("simsign/phone.html", form=form, phone=phone, error=error,
                           **context), status


def _start(purpose: str, form: dict[str, str], audit: str, **context):
    """Read the phone, ask its SIM to sign, and show the waiting page (or the form again)."""
    typed = (request.form.get("phone") or "").strip()[:32]
    try:
        phone = normalize_phone(typed)
        sim = start_request(phone, purpose, browser_id(), request.remote_addr)
    except InvalidField as exc:
        return _phone_page(form, typed, exc.message, 400, **context)
    except SimRefused as exc:
        record_event(audit, "refused", reason=exc.reason, detail=exc.detail[:300])
        return _phone_page(form, typed, exc.message_vi, 400, **context)
    return _wait_page(sim, form, **context)


def _wait_page(sim: SimRequest, form: dict[str, str], **context):
    return render_template(
        "simsign/wait.html", sim=sim, form=form,
        seconds=max(0, round(sim.deadline - time.time())),
        total=provider().settings.mssp.wait_seconds,
        status_url=url_for(".status", s=sim.id, **form),
        retry_url=_form_url(form), **context)


def _form_url(form: dict[str, str]) -> str:
    """The phone-number page of the flow that `form` names."""
    if "tx" in form:
        return url_for(".login", **form)
    if "t" in form:
        return url_for(".register", account_type=form["t"])
    return url_for(".add_sim")


def _failed(exc: CertificateLoginRefused, audit: str, **detail):
    record_event(audit, "refused", reason=exc.reason, detail=exc.detail[:300], **detail)
    # An account refusal in SIM words where the USB token's text would mislead.
    message = MESSAGES_VI.get(exc.reason, exc.message_vi)
    return {"state": "failed", "message": message}, 200, NO_STORE


# --- login and step-up ------------------------------------------------------------------------


def _login_context(interaction: Interaction) -> dict:
    return {"interaction": interaction,
            "level3": requested_level(interaction) >= SIM_SIGNATURE.level,
            "step_up": step_up_account(interaction) is not None}


@bp.route("/login/sim", methods=["GET", "POST"])
def login():
    """The phone-number form; on POST, the request to the SIM, then the waiting page."""
    interaction = _interaction()
    form = {"tx": interaction.id}
    if request.method == "GET":
        return _phone_page(form, **_login_context(interaction))
    return _start(f"login:{interaction.id}", form, "login.sim", **_login_context(interaction))


@bp.route("/login/sim/status")
def status():
    """One bounded look at the request: {"state": "running" | "done" | "failed"}."""
    if "t" in request.args:
        return _register_status()
    if "acct" in request.args:
        return _account_status()
    interaction = _interaction()
    try:
        identity = poll_request(request.args.get("s", "")[:64], f"login:{interaction.id}",
                                browser_id())
        if identity is None:
            return {"state": "running"}, 200, NO_STORE
        account = login_account(provider().db.session, identity, kind="sim",
                                step_up_account_id=step_up_account(interaction))
    except CertificateLoginRefused as exc:
        return _failed(exc, "login.sim", client_id=interaction.client_id)
    done = login_succeeded(interaction, account, SIM_SIGNATURE)
    return {"state": "done", "next": done.location}, 200, NO_STORE


@bp.route("/login/sim/cancel", methods=["POST"])
def cancel():
    """Stop waiting: the request is forgotten and the phone-number form shown again."""
    request_id = (request.form.get("s") or "")[:64]
    if "acct" in request.form:
        account = recent_viewer("sim.add_sim").account
        cancel_request(request_id, f"account:{account.id}", browser_id())
        return redirect(url_for(".add_sim"), 303)
    if "t" in request.form:
        account_type = _account_type(request.form.get("t", ""))
        cancel_request(request_id, f"register:{account_type}", browser_id())
        record_event("register.sim", "cancelled", account_type=account_type)
        return _phone_page({"t": account_type}, error=CANCELLED,
                           **_register_context(account_type))
    interaction = _interaction()
    cancel_request(request_id, f"login:{interaction.id}", browser_id())
    record_event("login.sim", "cancelled", client_id=interaction.client_id)
    return _phone_page({"tx": interaction.id}, error=CANCELLED, **_login_context(interaction))


# --- registration -----------------------------------------------------------------------------


def _account_type(value: str) -> str:
    _available()
    if value not in REGISTER_TYPES:
        abort(404)
    return value


def _register_context(account_type: str) -> dict:
    return {"type_name": ACCOUNT_TYPE_NAMES[account_type], "account_type": account_type}


@bp.route("/register/sim/<any(citizen, enterprise):account_type>", methods=["GET", "POST"])
def register(account_type: str):
    """Registration: the SIM signs, then the identity of its certificate is confirmed."""
    _account_type(account_type)
    form = {"t": account_type}
    if request.method == "GET":
        return _phone_page(form, **_register_context(account_type))
    return _start(f"register:{account_type}", form, "register.sim",
                  **_register_context(account_type))


def _register_status():
    account_type = _account_type(request.args.get("t", ""))
    try:
        identity = poll_request(request.args.get("s", "")[:64], f"register:{account_type}",
                                browser_id())
        if identity is None:
            return {"state": "running"}, 200, NO_STORE
        check_kind(identity, account_type)
    except CertificateLoginRefused as exc:
        return _failed(exc, "register.sim", account_type=account_type)
    return _registration_next(identity, account_type)


def _registration_next(identity: CertificateIdentity, account_type: str):
    # The registrant has just proved they hold this identity's certificate, so saying
    # that it has an account tells them nothing they could not know.
    if account_for(provider().db.session, identity) is not None:
        record_event("register.sim", "exists", account_type=account_type)
        return {"state": "failed", "message": EXISTS}, 200, NO_STORE
    registration = start_registration(identity, browser_id(), kind="sim")
    record_event("register.check", "success", method="sim_signature", account_type=account_type)
    confirm = url_for("register.confirm_certificate", r=registration.id)
    return {"state": "done", "next": confirm}, 200, NO_STORE


# --- adding a SIM from the account console ----------------------------------------------------


@bp.route("/account/sim", methods=["GET", "POST"])
def add_sim():
    """The SIM signs; its certificate must carry the account's own identity."""
    _available()
    account = recent_viewer("sim.add_sim").account
    form = {"acct": "1"}
    if request.method == "GET":
        return _phone_page(form, console=True)
    return _start(f"account:{account.id}", form, "sim_signature.add", console=True)


def _account_status():
    _available()
    account = recent_viewer("sim.add_sim").account
    try:
        identity = poll_request(request.args.get("s", "")[:64], f"account:{account.id}",
                                browser_id())
        if identity is None:
            return {"state": "running"}, 200, NO_STORE
        raised = add_to_account(provider().db.session, account, identity, kind="sim")
    except CertificateLoginRefused as exc:
        return _failed(exc, "sim_signature.add", account_id=account.id)
    record_event("sim_signature.add", "success", account_id=account.id,
                 fingerprint=identity.sha256_fingerprint[:16], ial_raised=raised)
    done = "certificate_added_ial3" if raised else "certificate_added"
    return {"state": "done", "next": url_for("account.security", done=done)}, 200, NO_STORE
