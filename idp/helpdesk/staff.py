"""Staff accounts: creation with a TOTP secret, roles, status; used by the admin pages and
the `idp staff` command. A TOTP secret is returned once, at creation or reset, and is kept
only sealed (idp.security.sealed)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pyotp
import segno
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.helpdesk.roles import ROLES
from idp.identity import InvalidField, normalize_name
from idp.provider import provider
from idp.security.passwords import check_password_policy, password_user_inputs
from idp.security.sealed import seal, unseal
from idp.store.models import StaffMember

TOTP_PURPOSE = "staff-totp"
TOTP_ISSUER = "SSO Cổng DVCQG - Cán bộ"
_USERNAME = re.compile(r"[a-z][a-z0-9._-]{2,63}")


class StaffError(ValueError):
    """A staff change was refused; `errors` maps form fields to Vietnamese messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class Enrolment:
    """A TOTP secret to show once, as text and as a QR code for the authenticator app."""

    secret: str
    uri: str

    @property
    def qr_svg(self) -> str:
        return segno.make(self.uri, error="m").svg_inline(scale=4)


def normalize_username(value: str) -> str:
    """Lower-case, trimmed; the form is checked separately (see `check_username`)."""
    return value.strip().lower()[:64]


def check_username(username: str) -> bool:
    """3–64 characters: a letter first, then letters, digits, dot, dash or underscore."""
    return bool(_USERNAME.fullmatch(username))


def _check_roles(roles: Iterable[str]) -> list[str]:
    chosen = [role for role in ROLES if role in set(roles)]
    if not chosen or set(roles) - set(ROLES):
        raise StaffError({"roles": "Vui lòng chọn ít nhất một vai trò hợp lệ."})
    return chosen


def _enrolment(staff: StaffMember) -> Enrolment:
    secret = pyotp.random_base32()
    staff.totp_secret = seal(secret, TOTP_PURPOSE)
    uri = pyotp.TOTP(secret).provisioning_uri(name=staff.username, issuer_name=TOTP_ISSUER)
    return Enrolment(secret, uri)


def totp_secret(staff: StaffMember) -> str:
    """The plain TOTP secret, for checking a code at login only."""
    return unseal(staff.totp_secret, TOTP_PURPOSE)


def create_staff(session: Session, username: str, full_name: str, roles: Iterable[str],
                 password: str) -> tuple[StaffMember, Enrolment]:
    """Create an active staff member; raise StaffError listing every bad field."""
    p = provider()
    errors: dict[str, str] = {}
    username = normalize_username(username)
    if not check_username(username):
        errors["username"] = ("Tên đăng nhập gồm 3–64 ký tự: chữ cái thường đứng đầu, "
                              "sau đó chữ cái, chữ số, dấu chấm, gạch ngang hoặc gạch dưới.")
    try:
        full_name = normalize_name(full_name)
    except InvalidField as exc:
        errors["full_name"] = exc.message
    try:
        chosen = _check_roles(roles)
    except StaffError as exc:
        errors.update(exc.errors)
    problems = check_password_policy(
        password, [username, *password_user_inputs(full_name=full_name)],
        min_score=p.settings.passwords.min_zxcvbn_score,
    )
    if problems:
        errors["password"] = " ".join(problems)
    if errors:
        raise StaffError(errors)
    staff = StaffMember(username=username, full_name=full_name, roles=chosen,
                        password_hash=p.passwords.hash(password), status="active")
    enrolment = _enrolment(staff)
    session.add(staff)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise StaffError({"username": "Tên đăng nhập này đã được dùng."}) from None
    return staff, enrolment


def set_roles(session: Session, staff: StaffMember, roles: Iterable[str]) -> list[str]:
    """Replace the staff member's roles; returns them in canonical order."""
    staff.roles = _check_roles(roles)
    session.commit()
    return list(staff.roles)


def set_status(session: Session, staff: StaffMember, active: bool) -> None:
    """Enable or disable; a disabled member's open sessions stop at their next request."""
    staff.status = "active" if active else "disabled"
    session.commit()


def reset_totp(session: Session, staff: StaffMember) -> Enrolment:
    """A new TOTP secret (a lost phone); the old authenticator stops working at once."""
    enrolment = _enrolment(staff)
    session.commit()
    return enrolment


def list_staff(session: Session) -> list[StaffMember]:
    return list(session.scalars(select(StaffMember).order_by(StaffMember.username)))


def find_staff(session: Session, username: str) -> StaffMember | None:
    return session.scalar(select(StaffMember).where(
        StaffMember.username == normalize_username(username)))
