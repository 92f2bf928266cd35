"""Staff roles and what each may do: the one place where the permission matrix lives."""

from __future__ import annotations

from collections.abc import Iterable

ROLES: dict[str, str] = {
    "helpdesk": "Tổng đài hỗ trợ",
    "registrar": "Cán bộ một cửa",
    "supervisor": "Giám sát",
    "auditor": "Kiểm toán",
    "admin": "Quản trị",
}
"""Every role, in the order used to pick the role a staff member acted in."""

PERMISSIONS: dict[str, frozenset[str]] = {
    "search": frozenset({"helpdesk", "registrar", "supervisor"}),
    "reset_phone": frozenset({"helpdesk", "registrar", "supervisor"}),
    "approve_reset": frozenset({"supervisor"}),
    "register_citizen": frozenset({"registrar"}),
    "unlock": frozenset({"helpdesk", "supervisor"}),
    "suspend": frozenset({"supervisor"}),
    "complaints": frozenset({"helpdesk", "supervisor"}),
    "audit": frozenset({"auditor"}),
    "staff_admin": frozenset({"admin"}),
    "logout_deliveries": frozenset({"admin"}),
}
"""Permission → the roles that hold it. Auditors and admins see no citizen data."""


def allowed(roles: Iterable[str], permission: str) -> bool:
    """Whether any of `roles` holds `permission` (unknown permissions are held by nobody)."""
    return not PERMISSIONS.get(permission, frozenset()).isdisjoint(roles)


def acting_role(roles: Iterable[str], permission: str | None = None) -> str | None:
    """The role recorded in the audit log: the first of `roles` granting `permission`,
    or the first role at all when no permission applies (or none grants it)."""
    held = [role for role in ROLES if role in set(roles)]
    granting = [role for role in held if permission and role in PERMISSIONS.get(permission, ())]
    return (granting or held or [None])[0]
