"""Registration with a USB token for Công dân, Doanh nghiệp and Cơ quan nhà nước.

Sign a challenge → the identity read from the verified certificate is shown → the
registrant adds an e-mail (and a citizen the birth date, which the certificate lacks
and the CCCD partly encodes) → a level-3 account exists, the certificate bound to it.
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from idp.audit import record_event
from idp.errors import refuse
from idp.login.outcome import ways_back_to_login
from idp.provider import provider
from idp.register.views import EXPIRED
from idp.sessions import browser_id
from idp.usbtoken.bindings import (
    METHODS,
    AccountExists,
    NewAccountData,
    account_for,
    check_kind,
    display_name,
    register_account,
)
from idp.usbtoken.login import NOT_CONFIGURED
from idp.usbtoken.pending_registration import (
    PendingRegistration,
    end_registration,
    load_registration,
    start_registration,
)
from idp.usbtoken.refusals import UsbTokenRefused
from idp.usbtoken.verification import TokenSubmission, usb_token_available, verify_submission
from idp.usbtoken.web import audit_refusal, bp, signer_page
from vnid.person import InvalidField, mask_cccd, normalize_email, parse_birthdate

METHOD_NAMES = {"usb": "USB ký số", "sim": "SIM ký số"}
ACCOUNT_TYPE_NAMES = {"citizen": "Công dân", "enterprise": "Doanh nghiệp",
                      "agency": "Cơ quan nhà nước"}


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
        identity = verify_submission(TokenSubmission.from_form(request.form),
                                     f"register:{account_type}", browser_id())
        check_kind(identity, account_type)
    except UsbTokenRefused as exc:
        audit_refusal("register.usb", exc, account_type=account_type)
        return _sign_page(account_type, exc.message_vi, 400)
    # The registrant has just proved they hold a certificate for this identity, so
    # saying that it has an account tells them nothing they could not know.
    if account_for(provider().db.session, identity) is not None:
        record_event("register.usb", "exists", account_type=account_type)
        return render_template("usbtoken/exists.html", type_name=ACCOUNT_TYPE_NAMES[account_type])
    registration = start_registration(identity, browser_id())
    record_event("register.check", "success", method="usb_token", account_type=account_type)
    return redirect(url_for(".confirm", r=registration.id), 303)


def _registration() -> PendingRegistration:
    registration = load_registration(request.values.get("r", ""), browser_id())
    if registration is None:
        refuse(EXPIRED)
    return registration


def _confirm_page(registration: PendingRegistration, values: dict[str, str],
                  errors: dict[str, str] | None = None, status: int = 200):
    identity = registration.certificate_identity()
    return render_template(
        "usbtoken/confirm.html", registration=registration, identity=identity,
        name=display_name(identity), type_name=ACCOUNT_TYPE_NAMES[identity.kind],
        cccd=mask_cccd(identity.cccd) if identity.cccd else None,
        values=values, errors=errors or {},
    ), status


@bp.route("/register/usb/confirm", methods=["GET", "POST"])
def confirm():
    """The identity from the certificate; the registrant adds an e-mail (and a birth date)."""
    _available()
    registration = _registration()
    if request.method == "GET":
        return _confirm_page(registration, {})
    identity = registration.certificate_identity()
    values = {name: (request.form.get(name) or "").strip()[:254] for name in ("email",
                                                                           "birthdate")}
    errors: dict[str, str] = {}
    email = birthdate = None
    try:
        email = normalize_email(values["email"])
    except InvalidField as exc:
        errors[exc.field] = exc.message
    if identity.kind == "citizen" and identity.birthdate is None:
        try:
            birthdate = parse_birthdate(values["birthdate"])
        except InvalidField as exc:
            errors[exc.field] = exc.message
    if errors:
        return _confirm_page(registration, values, errors, 400)
    try:
        account = register_account(provider().db.session, identity,
                                   NewAccountData(email=email, birthdate=birthdate),
                                   kind=registration.kind)
    except InvalidField as exc:
        # "cccd": the birth year typed is not the one the CCCD encodes.
        field = "birthdate" if exc.field == "cccd" else exc.field
        return _confirm_page(registration, values, {field: exc.message}, 400)
    except AccountExists:
        end_registration(registration)
        return render_template("usbtoken/exists.html", type_name=ACCOUNT_TYPE_NAMES[identity.kind])
    end_registration(registration)
    record_event("register.complete", "success", account_id=account.id,
                 method=METHODS[registration.kind],
                 account_type=account.account_type)
    return render_template("usbtoken/registered.html", account=account,
                           method_name=METHOD_NAMES[registration.kind],
                           actions=ways_back_to_login(account.cccd))
