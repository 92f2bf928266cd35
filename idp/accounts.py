"""Account rows: create (registration, the counter, `idp account add`), change the password,
replace the default OTP phone. The citizen's console is `idp/account/`."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.security.passwords import PasswordHasher, check_password_policy, password_user_inputs
from idp.store.models import Account, IdentityEvidence, OtpPhone, RefreshToken, utcnow
from vnid.person import InvalidPerson, PersonData, validate_person

EVIDENCE_METHODS = ("carrier", "bhxh", "post", "counter")
"""The `verified_by` values that are a check of the person (an operator's is not)."""

DUPLICATE_CCCD = (
    "Số định danh này đã có tài khoản. Nếu đó không phải tài khoản của bạn, vui lòng dùng "
    "\"Quên mật khẩu\", đến bộ phận một cửa hoặc gửi khiếu nại."
)


class AccountExists(Exception):
    """An account with this CCCD already exists."""


def validate_new_account(raw: Mapping[str, str], password: str, min_score: int) -> PersonData:
    """Check every field and the password policy; raise InvalidPerson listing all problems."""
    errors: dict[str, str] = {}
    person = None
    try:
        person = validate_person(raw)
    except InvalidPerson as exc:
        errors.update(exc.errors)
    inputs = password_user_inputs(
        full_name=raw.get("full_name"), cccd=raw.get("cccd"),
        birthdate=person.birthdate if person else None, phone=raw.get("phone"),
    )
    problems = check_password_policy(password, inputs, min_score=min_score)
    if problems:
        errors["password"] = " ".join(problems)
    if errors:
        raise InvalidPerson(errors)
    return person


def create_account(
    session: Session,
    person: PersonData,
    password: str,
    hasher: PasswordHasher,
    *,
    verified_by: str,
    ial: int = 2,
    bhxh_code: str | None = None,
    email_verified: bool = False,
    evidence: dict | None = None,
) -> Account:
    """Create a level-`ial` citizen account with its OTP phone; commit or change nothing.

    A registry or counter check (`verified_by`) is kept as the account's evidence, with
    `evidence`'s details (organization, staff, document) when the caller has them.
    """
    if session.scalar(select(Account.id).where(Account.cccd_is(person.cccd))) is not None:
        raise AccountExists(DUPLICATE_CCCD)
    account = Account(
        subject=secrets.token_urlsafe(32),
        cccd=person.cccd,
        full_name=person.full_name,
        birthdate=person.birthdate,
        gender=person.gender,
        email=person.email,
        email_verified=email_verified and person.email is not None,
        bhxh_code=bhxh_code,
        password_hash=hasher.hash(password),
        account_type="citizen",
        ial=ial,
        verified_by=verified_by,
        status="active",
    )
    account.phones.append(OtpPhone(phone=person.phone, is_default=True))
    if verified_by in EVIDENCE_METHODS:
        account.evidence.append(IdentityEvidence(method=verified_by, **(evidence or {})))
    session.add(account)
    try:
        session.commit()
    except IntegrityError:
        # Two registrations of one CCCD at the same moment: the unique index decides.
        session.rollback()
        raise AccountExists(DUPLICATE_CCCD) from None
    return account


def change_password(session: Session, account: Account, password: str,
                    hasher: PasswordHasher) -> list[str]:
    """Set a new password and revoke every refresh token of the account.

    Returns the refresh-token families that were revoked, so their access
    tokens can be refused too. Ending the SSO sessions is the caller's job
    (it must also tell the portals).
    """
    account.password_hash = hasher.hash(password)
    account.password_changed_at = utcnow()
    families = list(session.scalars(
        select(RefreshToken.family_id).where(
            RefreshToken.account_id == account.id, RefreshToken.revoked_at.is_(None)
        ).distinct()
    ))
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.account_id == account.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow().timestamp())
    )
    session.commit()
    return families


def replace_default_phone(account: Account, new_phone: str) -> str | None:
    """Make `new_phone` the OTP phone and drop the lost default (the caller commits).

    Returns the number that was dropped, to notify it, or None.
    """
    old = account.default_phone
    kept = next((phone for phone in account.phones if phone.phone == new_phone), None)
    for phone in account.phones:
        phone.is_default = phone is kept
    if kept is None:
        account.phones.append(OtpPhone(phone=new_phone, is_default=True))
    if old is not None and old is not kept:
        account.phones.remove(old)
        return old.phone
    return None
