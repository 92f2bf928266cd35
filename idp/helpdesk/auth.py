"""Staff sessions and authorisation: a cookie of their own, never the citizens' SSO session.

The browser holds only a random id (`idp_staff`, HttpOnly, SameSite=Strict, path
/helpdesk); the record lives in the state store, so every worker sees it. A session
lasts at most 8 hours and ends after 30 idle minutes. The staff member is re-read
from the database on every request: disabling a member or changing roles takes
effect at once, and a session opened with a password or TOTP secret that has since been
replaced (by the member, or reset by an admin) ends.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import Response, g, has_request_context, redirect, request, url_for

from idp.audit import record_event
from idp.errors import error_page
from idp.helpdesk.roles import acting_role, allowed
from idp.provider import provider
from idp.store.models import StaffMember

STAFF_COOKIE = "idp_staff"
COOKIE_PATH = "/helpdesk"
LIFETIME = 8 * 3600
IDLE_TIMEOUT = 30 * 60
PENDING_TTL = 300
"""Time between the password and the TOTP code."""
DENIED = "Vai trò của bạn không được phép thực hiện thao tác này."


@dataclass(frozen=True)
class StaffContext:
    """Who is acting: what services need to authorise and audit a staff action."""

    id: int
    username: str
    full_name: str
    roles: tuple[str, ...]
    must_replace_credentials: bool = False

    @classmethod
    def of(cls, staff: StaffMember) -> StaffContext:
        return cls(staff.id, staff.username, staff.full_name, tuple(staff.roles),
                   staff.must_replace_credentials)

    @property
    def actor(self) -> str:
        return f"staff:{self.username}"

    def may(self, permission: str) -> bool:
        return allowed(self.roles, permission)

    def role_for(self, permission: str | None = None) -> str | None:
        return acting_role(self.roles, permission)


def staff_event(event: str, result: str, staff: StaffContext, permission: str | None = None,
                *, account_id: int | None = None, **detail) -> None:
    """Audit a staff action: who (actor), in which role, on which account, with `detail`."""
    record_event(event, result, account_id=account_id, actor=staff.actor,
                 actor_role=staff.role_for(permission), **detail)


class PermissionDenied(Exception):
    """The staff member's roles do not hold the permission (already audited)."""


def ensure(staff: StaffContext, permission: str) -> None:
    """Refuse, with a `staff.denied` audit row, unless `staff` holds `permission`.

    Views get this through `requires`; services that change accounts call it too, so
    the rule holds whoever calls them.
    """
    if not staff.may(permission):
        staff_event("staff.denied", "refused", staff, needed=permission,
                    endpoint=request.endpoint if has_request_context() else None)
        raise PermissionDenied(permission)


def start_pending(staff: StaffMember) -> str:
    """The password was right: a short-lived record waiting for the TOTP code."""
    sid = secrets.token_urlsafe(32)
    provider().state.put(f"staff-pending:{sid}", {"staff": staff.id}, PENDING_TTL)
    return sid


def pending_staff_id(sid: str | None) -> int | None:
    if not sid or len(sid) > 64:
        return None
    record = provider().state.get(f"staff-pending:{sid}")
    return record["staff"] if record else None


def _credentials_stamp(staff: StaffMember) -> str:
    """Changes whenever the password or the TOTP secret does (both are stored sealed or
    hashed, so the stamp reveals nothing)."""
    material = f"{staff.password_hash}|{staff.totp_secret}".encode()
    return hashlib.sha256(material).hexdigest()[:32]


def start_session(pending_sid: str, staff: StaffMember) -> str | None:
    """Both factors passed: a new id (never the pre-login one, against session fixation).

    The pending record is taken, so one password step opens at most one session.
    """
    state = provider().state
    if state.take(f"staff-pending:{pending_sid}") is None:
        return None
    sid = secrets.token_urlsafe(32)
    state.put(f"staff-session:{sid}", {"staff": staff.id, "created": time.time(),
                                       "cred": _credentials_stamp(staff)}, IDLE_TIMEOUT)
    return sid


def keep_session_after_credentials_change(staff: StaffMember) -> None:
    """This request's own session goes on after its member replaced their credentials;
    every other session of the member ends at its next request."""
    sid = request.cookies.get(STAFF_COOKIE)
    state = provider().state
    record = state.get(f"staff-session:{sid}") if sid and len(sid) <= 64 else None
    if record is not None and record["staff"] == staff.id:
        record["cred"] = _credentials_stamp(staff)
        remaining = record["created"] + LIFETIME - time.time()
        state.put(f"staff-session:{sid}", record, max(1, min(IDLE_TIMEOUT, remaining)))


def end_staff_session(sid: str | None) -> None:
    """Forget a staff session (and any login of it waiting for its TOTP code)."""
    if sid and len(sid) <= 64:
        provider().state.delete(f"staff-session:{sid}")
        provider().state.delete(f"staff-pending:{sid}")


def current_staff() -> StaffContext | None:
    """The staff member of this request's cookie, if the session is live and they are active."""
    if "staff" in g:
        return g.staff
    sid = request.cookies.get(STAFF_COOKIE)
    if not sid or len(sid) > 64:
        return None
    state = provider().state
    record = state.get(f"staff-session:{sid}")
    if record is None:
        return None
    remaining = record["created"] + LIFETIME - time.time()
    staff = provider().db.session.get(StaffMember, record["staff"])
    if (remaining <= 0 or staff is None or staff.status != "active"
            or record.get("cred") != _credentials_stamp(staff)):
        state.delete(f"staff-session:{sid}")
        return None
    state.put(f"staff-session:{sid}", record, min(IDLE_TIMEOUT, remaining))
    g.staff = StaffContext.of(staff)
    return g.staff


def set_cookie(response: Response, sid: str) -> Response:
    response.set_cookie(STAFF_COOKIE, sid, secure=provider().settings.session.cookie_secure,
                        httponly=True, samesite="Strict", path=COOKIE_PATH)
    return response


def clear_cookie(response: Response) -> Response:
    response.delete_cookie(STAFF_COOKIE, secure=provider().settings.session.cookie_secure,
                           httponly=True, samesite="Strict", path=COOKIE_PATH)
    return response


def requires(permission: str | None = None, *, before_replacement: bool = False) -> Callable:
    """Views for logged-in staff; with `permission`, only for roles that hold it. A member
    who must still replace handed-over credentials is sent to do that first, except on
    the views marked `before_replacement` (that page itself, logging out).

    A refusal is a 403 page and a `staff.denied` audit row naming the permission.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            staff = current_staff()
            if staff is None:
                return redirect(url_for("helpdesk.login"), 303)
            if staff.must_replace_credentials and not before_replacement:
                return redirect(url_for("helpdesk.credentials"), 303)
            try:
                if permission is not None:
                    ensure(staff, permission)
                return view(*args, **kwargs)
            except PermissionDenied:
                return error_page(403, DENIED)

        return guarded

    return decorate
