"""Assisted registration at the one-stop desk, and the citizen's activation link.

The registrar checks the citizen's documents in person and creates a level-2 account
verified "at counter" whose password nobody knows. The citizen receives a one-time link
by SMS on their own phone and sets the password there, so staff never see or choose it.
The link works once, for 24 hours; only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping

from sqlalchemy.orm import Session

from idp.accounts import change_password, create_account
from idp.audit import record_event
from idp.helpdesk.auth import StaffContext, ensure, staff_event
from idp.helpdesk.evidence import InvalidEvidence, check_evidence, mask_number
from idp.provider import provider
from idp.security.passwords import check_password_policy, password_user_inputs
from idp.store.models import Account, StaffMember
from vnid.person import InvalidPerson, mask_cccd, mask_phone, validate_person

ACTIVATION_TTL = 24 * 3600
ACTIVATION_SMS = (
    "Tài khoản định danh của bạn đã được tạo tại bộ phận một cửa. Đặt mật khẩu trong 24 giờ "
    "tại: {link} . Không chuyển liên kết này cho bất kỳ ai, kể cả cán bộ."
)


def _key(token: str) -> str:
    return "counter-activation:" + hashlib.sha256(token.encode()).hexdigest()


def register_citizen(session: Session, staff: StaffContext, raw: Mapping[str, str], *,
                     evidence_type: str, evidence_number: str) -> tuple[Account, str]:
    """Create the account; returns it with the one-time activation token to send.

    Raises InvalidPerson (field → message) or idp.accounts.AccountExists.
    """
    ensure(staff, "register_citizen")
    errors: dict[str, str] = {}
    person = None
    try:
        person = validate_person(raw)
    except InvalidPerson as exc:
        errors.update(exc.errors)
    try:
        kind, number = check_evidence(evidence_type, evidence_number,
                                      person.cccd if person else None)
    except InvalidEvidence as exc:
        errors["evidence"] = str(exc)
    if errors or person is None:
        raise InvalidPerson(errors)
    p = provider()
    # A random password nobody is told: the account opens only through the link.
    office = session.get(StaffMember, staff.id).office
    account = create_account(session, person, secrets.token_urlsafe(32), p.passwords,
                             verified_by="counter", ial=2,
                             evidence={"staff": staff.username, "organization": office,
                                       "document": kind})
    token = secrets.token_urlsafe(32)
    p.state.put(_key(token), {"account": account.id}, ACTIVATION_TTL)
    staff_event("staff.register_citizen", "success", staff, "register_citizen",
                account_id=account.id, cccd=mask_cccd(person.cccd),
                phone=mask_phone(person.phone), evidence_type=kind,
                evidence_number=mask_number(number), reason="đăng ký tại quầy")
    return account, token


def send_activation(account: Account, link: str) -> None:
    """SMS the link to the citizen's own phone (the one registered just now)."""
    provider().sms.send(account.default_phone.phone, ACTIVATION_SMS.format(link=link))


def activation_account(session: Session, token: str) -> Account | None:
    """The account a still-valid link opens, or None."""
    if not 20 <= len(token) <= 64:
        return None
    record = provider().state.get(_key(token))
    return session.get(Account, record["account"]) if record else None


def password_problems(account: Account, password: str, confirm: str) -> list[str]:
    """The password rule with the citizen's own data as forbidden words."""
    problems = check_password_policy(
        password,
        password_user_inputs(account.full_name, account.cccd, account.birthdate,
                             account.default_phone.phone if account.default_phone else None),
        min_score=provider().settings.passwords.min_zxcvbn_score,
    )
    if password != confirm:
        problems.append("Mật khẩu nhập lại không khớp.")
    return problems


def activate_account(session: Session, token: str, password: str) -> Account | None:
    """Set the password if the link is still unused; None when someone used it first."""
    p = provider()
    record = p.state.take(_key(token))  # single use, even for two submissions at once
    if record is None:
        return None
    account = session.get(Account, record["account"])
    if account is None:
        return None
    change_password(session, account, password, p.passwords)
    record_event("counter.activate", "success", account_id=account.id)
    return account

