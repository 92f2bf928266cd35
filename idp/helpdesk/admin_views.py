"""Staff administration pages (admin role): list, create, roles, enable/disable, new TOTP."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for

from idp.helpdesk.admin import add_member, change_roles, change_status, new_totp
from idp.helpdesk.auth import current_staff, requires
from idp.helpdesk.blueprint import bp, form_field
from idp.helpdesk.roles import ROLES
from idp.helpdesk.services import ActionRefused
from idp.helpdesk.staff import Enrolment, StaffError, list_staff
from idp.provider import provider
from idp.store.models import StaffMember


def _roles_from_form() -> list[str]:
    return request.form.getlist("roles")[:10]


@bp.route("/staff")
@requires("staff_admin")
def staff_list():
    return render_template("helpdesk/staff_list.html",
                           members=list_staff(provider().db.session))


@bp.route("/staff/new", methods=["GET", "POST"])
@requires("staff_admin")
def staff_new():
    """A new member; their TOTP secret is shown on the next page, once."""
    if request.method == "GET":
        return render_template("helpdesk/staff_new.html", form={}, errors={}, roles=ROLES)
    form = {"username": form_field(request.form, "username", 64),
            "full_name": form_field(request.form, "full_name", 120),
            "roles": _roles_from_form()}
    password = (request.form.get("password") or "")[:256]
    errors: dict[str, str] = {}
    if password != (request.form.get("confirm") or ""):
        errors["confirm"] = "Mật khẩu nhập lại không khớp."
    else:
        try:
            member, enrolment = add_member(provider().db.session, current_staff(),
                                           form["username"], form["full_name"], form["roles"],
                                           password)
            return _enrolled(member, enrolment)
        except StaffError as exc:
            errors = exc.errors
    return render_template("helpdesk/staff_new.html", form=form, errors=errors,
                           roles=ROLES), 400


def _enrolled(member: StaffMember, enrolment: Enrolment):
    return render_template("helpdesk/staff_enrolled.html", member=member, enrolment=enrolment)


def _member(member_id: int) -> StaffMember:
    member = provider().db.session.get(StaffMember, member_id)
    if member is None:
        abort(404)
    return member


def _edit_page(member: StaffMember, error: str | None = None, status: int = 200):
    return render_template("helpdesk/staff_edit.html", member=member, roles=ROLES,
                           error=error), status


@bp.route("/staff/<int:member_id>")
@requires("staff_admin")
def staff_edit(member_id: int):
    return _edit_page(_member(member_id))


def _change(member_id: int, action):
    member = _member(member_id)
    try:
        action(member)
    except (ActionRefused, StaffError) as exc:
        return _edit_page(member, str(exc), 400)
    return redirect(url_for(".staff_edit", member_id=member_id), 303)


@bp.route("/staff/<int:member_id>/roles", methods=["POST"])
@requires("staff_admin")
def staff_roles(member_id: int):
    return _change(member_id, lambda member: change_roles(
        provider().db.session, current_staff(), member, _roles_from_form()))


@bp.route("/staff/<int:member_id>/status", methods=["POST"])
@requires("staff_admin")
def staff_status(member_id: int):
    return _change(member_id, lambda member: change_status(
        provider().db.session, current_staff(), member, request.form.get("active") == "1"))


@bp.route("/staff/<int:member_id>/totp", methods=["POST"])
@requires("staff_admin")
def staff_totp(member_id: int):
    member = _member(member_id)
    return _enrolled(member, new_totp(provider().db.session, current_staff(), member))
