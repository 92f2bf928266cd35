"""Staff administration by an admin: each change audited with the admin as actor and the
member changed as target. An admin cannot change their own roles or status, so no one
can lock themself out or quietly widen their own rights."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from idp.helpdesk.auth import StaffContext, ensure, staff_event
from idp.helpdesk.services import ActionRefused
from idp.helpdesk.staff import Enrolment, create_staff, reset_totp, set_roles, set_status
from idp.store.models import StaffMember

SELF_CHANGE = "Không thể tự thay đổi vai trò hoặc trạng thái của chính mình."


def _not_self(admin: StaffContext, member: StaffMember) -> None:
    if admin.id == member.id:
        raise ActionRefused(SELF_CHANGE)


def add_member(session: Session, admin: StaffContext, username: str, full_name: str,
               roles: Iterable[str], password: str) -> tuple[StaffMember, Enrolment]:
    """Create a member (raises StaffError with the fields' messages)."""
    ensure(admin, "staff_admin")
    member, enrolment = create_staff(session, username, full_name, roles, password)
    staff_event("staff.admin.create", "success", admin, "staff_admin", target=member.username,
                roles=list(member.roles))
    return member, enrolment


def change_roles(session: Session, admin: StaffContext, member: StaffMember,
                 roles: Iterable[str]) -> None:
    ensure(admin, "staff_admin")
    _not_self(admin, member)
    before = list(member.roles)
    after = set_roles(session, member, roles)
    staff_event("staff.admin.roles", "success", admin, "staff_admin", target=member.username,
                before=before, after=after)


def change_status(session: Session, admin: StaffContext, member: StaffMember,
                  active: bool) -> None:
    ensure(admin, "staff_admin")
    _not_self(admin, member)
    set_status(session, member, active)
    staff_event("staff.admin.enable" if active else "staff.admin.disable", "success", admin,
                "staff_admin", target=member.username)


def new_totp(session: Session, admin: StaffContext, member: StaffMember) -> Enrolment:
    """A new authenticator secret for a member who lost theirs (shown to the admin once)."""
    ensure(admin, "staff_admin")
    enrolment = reset_totp(session, member)
    staff_event("staff.admin.reset_totp", "success", admin, "staff_admin",
                target=member.username)
    return enrolment
