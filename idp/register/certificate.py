"""The last step of a registration with a certificate, from a USB token or a SIM
signature: the identity read from the certificate is shown, the registrant adds an e-mail
(and a citizen whose certificate lacks it, the birth date), and the account is opened.
"""

from __future__ import annotations

from flask import render_template, request

from idp.audit import record_event
from idp.certificates.bindings import METHODS
from idp.certificates.registration import (
    ACCOUNT_TYPE_NAMES,
    AccountExists,
    NewAccountData,
    PendingRegistration,
    display_name,
    end_registration,
    load_registration,
    register_account,
)
from idp.certificates.trust import trust_configured
from idp.errors import refuse
from idp.login.outcome import ways_back_to_login
from idp.provider import provider
from idp.register.views import EXPIRED, bp
from idp.sessions import browser_id
from vnid.person import InvalidField, mask_cccd, normalize_email, parse_birthdate

METHOD_NAMES = {"usb": "USB ký số", "sim": "SIM ký số"}
# The page's address, /register/usb/confirm, is the USB token's; so are its words here.
NOT_CONFIGURED = "Đăng nhập bằng USB ký số chưa được hệ thống hỗ trợ."


def _registration() -> PendingRegistration:
    # A CA no longer trusted opens no account, even for a certificate it vouched for before.
    if not trust_configured():
        refuse(NOT_CONFIGURED, 404)
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


@bp.route("/usb/confirm", methods=["GET", "POST"])
def confirm_certificate():
    """The identity from the certificate; the registrant adds an e-mail (and a birth date)."""
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
