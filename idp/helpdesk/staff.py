"""Staff accounts: creation with a TOTP secret, roles, status; used by the admin pages and
the `idp staff` command. A TOTP secret is returned once, at creation or reset, and is kept
only sealed (idp.security.sealed).

Whoever creates a member (or resets their TOTP) has seen the password and the secret, so
the member must replace both at their next login before anything else: otherwise an
admin could act as a supervisor, and dual control would be one person.
"""

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
from idp.provider import provider
from idp.security import totp
from idp.security.passwords import check_password_policy, password_user_inputs
from idp.security.sealed import seal, unseal
from idp.store.models import StaffMember
from vnid.person import InvalidField, normalize_name

TOTP_PURPOSE = "staff-totp"
TOTP_ISSUER = "SSO Cổng DVCQG - Cán bộ"
REPLACEMENT_TTL = 600
"""Seconds a new TOTP secret offered for replacement waits to be confirmed with a code."""
TOTP_USED_TTL = 120  # longer than the 90 s a code is accepted (one step either side)


def _replacement_key(staff: StaffMember) -> str:
    return f"staff-new-totp:{staff.id}"
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


def _enrolment_of(staff: StaffMember, secret: str) -> Enrolment:
    uri = pyotp.TOTP(secret).provisioning_uri(name=staff.username, issuer_name=TOTP_ISSUER)
    return Enrolment(secret, uri)


def _enrolment(staff: StaffMember) -> Enrolment:
    """A new secret handed over by someone else: the member must replace it (and the
    password) at the next login."""
    secret = pyotp.random_base32()
    staff.totp_secret = seal(secret, TOTP_PURPOSE)
    staff.must_replace_credentials = True
    return _enrolment_of(staff, secret)


def spend_totp_code(staff: StaffMember, code: str) -> bool:
    """Mark a right code as used; False when it was used already (a replayed code)."""
    return totp.first_use(f"staff-{staff.id}", code, TOTP_USED_TTL)


def offered_replacement(staff: StaffMember) -> Enrolment:
    """The new TOTP secret offered to a member replacing handed-over credentials: the same
    one until it is confirmed or REPLACEMENT_TTL passes (a reload shows the same QR)."""
    secret, _fresh = totp.pending_secret(_replacement_key(staff), REPLACEMENT_TTL)
    return _enrolment_of(staff, secret)


def replace_credentials(session: Session, staff: StaffMember, password: str, confirm: str,
                        code: str) -> None:
    """Set the member's own password and the offered TOTP secret (proven by a code from
    it); raise StaffError listing what is wrong."""
    p = provider()
    errors: dict[str, str] = {}
    problems = check_password_policy(
        password, [staff.username, *password_user_inputs(full_name=staff.full_name)],
        min_score=p.settings.passwords.min_zxcvbn_score,
    )
    if not problems and p.passwords.verify(staff.password_hash, password):
        problems.append("Mật khẩu mới phải khác mật khẩu được cấp.")
    if password != confirm:
        problems.append("Mật khẩu nhập lại không khớp.")
    if problems:
        errors["password"] = " ".join(problems)
    secret = totp.offered_secret(_replacement_key(staff))
    if secret is None:
        errors["code"] = "Khóa xác thực mới đã hết hạn. Vui lòng quét lại mã QR mới."
    elif not totp.code_matches(secret, code):
        errors["code"] = "Mã xác thực không khớp với khóa mới vừa quét."
    if errors:
        raise StaffError(errors)
    spend_totp_code(staff, code)
    staff.password_hash = p.passwords.hash(password)
    staff.totp_secret = seal(secret, TOTP_PURPOSE)
    staff.must_replace_credentials = False
    session.commit()
    p.state.delete(_replacement_key(staff))


def totp_secret(staff: StaffMember) -> str:
    """The plain TOTP secret, for checking a code at login only."""
    return unseal(staff.totp_secret, TOTP_PURPOSE)


def create_staff(session: Session, username: str, full_name: str, roles: Iterable[str],
                 password: str, office: str | None = None) -> tuple[StaffMember, Enrolment]:
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
                        password_hash=p.passwords.hash(password), status="active",
                        office=(office or "").strip()[:200] or None)
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
