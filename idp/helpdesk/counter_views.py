"""Assisted registration at the desk (registrar) and the citizen's activation page.

The activation page belongs to the citizen: it needs no staff session and is reached
only through the one-time link sent to the citizen's phone.
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from idp.accounts import AccountExists
from idp.errors import error_page
from idp.helpdesk.auth import current_staff, requires
from idp.helpdesk.blueprint import bp, counter_bp, form_field
from idp.helpdesk.counter import (
    activate_account,
    activation_account,
    password_problems,
    register_citizen,
    send_activation,
)
from idp.helpdesk.evidence import EVIDENCE_TYPES
from idp.provider import provider
from vnid.person import InvalidPerson, mask_phone

PERSON_FIELDS = {"cccd": 20, "full_name": 120, "birthdate": 12, "gender": 10, "phone": 30,
                 "email": 254}
LINK_INVALID = ("Liên kết kích hoạt không hợp lệ, đã được dùng hoặc đã hết hạn (24 giờ). "
                "Vui lòng liên hệ bộ phận một cửa để được gửi lại.")


@bp.route("/register", methods=["GET", "POST"])
@requires("register_citizen")
def register():
    """The citizen's data as on the documents checked in person, and which documents."""
    if request.method == "GET":
        return _form({}, {})
    form = {name: form_field(request.form, name, limit) for name, limit in PERSON_FIELDS.items()}
    form["evidence_type"] = form_field(request.form, "evidence_type", 32)
    form["evidence_number"] = form_field(request.form, "evidence_number", 40)
    session = provider().db.session
    try:
        account, token = register_citizen(
            session, current_staff(), {name: form[name] for name in PERSON_FIELDS},
            evidence_type=form["evidence_type"], evidence_number=form["evidence_number"])
    except InvalidPerson as exc:
        return _form(form, exc.errors, 400)
    except AccountExists as exc:
        return _form(form, {"cccd": str(exc)}, 409)
    send_activation(account, provider().external_url(url_for("counter.activate", token=token)))
    return render_template("helpdesk/register_done.html", account=account,
                           phone=mask_phone(account.default_phone.phone))


def _form(form: dict, errors: dict, status: int = 200):
    return render_template("helpdesk/register.html", form=form, errors=errors,
                           evidence_types=EVIDENCE_TYPES), status


@counter_bp.route("/activate", methods=["GET", "POST"])
def activate():
    """The citizen sets the password of the account created for them at the desk."""
    token = form_field(request.values, "token", 100)
    session = provider().db.session
    account = activation_account(session, token)
    if account is None:
        return error_page(400, LINK_INVALID, "Kích hoạt tài khoản")
    if request.method == "GET":
        return render_template("helpdesk/activate.html", token=token, problems=[])
    password = (request.form.get("password") or "")[:256]
    problems = password_problems(account, password, request.form.get("confirm") or "")
    if problems:
        return render_template("helpdesk/activate.html", token=token, problems=problems), 400
    if activate_account(session, token, password) is None:
        return error_page(400, LINK_INVALID, "Kích hoạt tài khoản")
    return redirect(url_for("counter.activated"), 303)


@counter_bp.route("/activated")
def activated():
    return render_template("helpdesk/activated.html")
