"""Accounts and the certificates bound to them: find by certificate, bind, register, remove.

An account is found by the identity its certificate carries: the CCCD for a citizen, the
tax code (MST) for an enterprise, the budget-relationship code for an agency. A verified
certificate of that identity is bound to the account on first use (a renewed certificate
is simply a new row) and raises the account to IAL 3: a licensed CA vouched for the same
person or organisation the account was opened for.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.pki import CertificateIdentity
from idp.audit import record_event
from idp.interaction.methods import SIM_SIGNATURE, USB_TOKEN
from idp.store.models import Account, AccountCertificate, utcnow
from idp.usbtoken.refusals import UsbTokenRefused
from vnid.person import InvalidField, normalize_name, validate_cccd

KIND = "usb"
METHODS = {"usb": USB_TOKEN.name, "sim": SIM_SIGNATURE.name}
"""Audit name of each certificate kind's login method (USB token, SIM signature)."""
CERTIFICATE_IAL = USB_TOKEN.level
"""A CA vouched for the identity in the certificate: the account's identity is proved to
the level the certificate logs in at."""
ACCOUNT_TYPES = ("citizen", "enterprise", "agency")


class AccountExists(Exception):
    """An account for this identity exists already."""


def account_for(session: Session, identity: CertificateIdentity) -> Account | None:
    """The account the certificate's identity names, if there is one."""
    if identity.kind == "citizen":
        if identity.cccd is None:
            return None
        query = select(Account).where(Account.cccd_is(identity.cccd))
    elif identity.kind == "enterprise":
        query = select(Account).where(Account.account_type == "enterprise",
                                      Account.tax_code == identity.tax_code)
    else:
        query = select(Account).where(Account.account_type == "agency",
                                      Account.budget_code == identity.budget_code)
    return session.scalar(query)


@dataclass(frozen=True)
class Binding:
    """What binding a certificate changed, to audit once it is committed."""

    account_id: int
    fingerprint: str
    serial_hex: str
    new_certificate: bool
    raised_from: int | None
    """The IAL before, when this binding raised it."""
    kind: str = KIND


def bind_certificate(session: Session, account: Account, identity: CertificateIdentity, *,
                     re_add: bool = False, kind: str = KIND) -> Binding:
    """Record that `account` used this certificate now, and raise the account to IAL 3.

    The caller has matched the identity to the account, commits, then calls
    `audit_binding`. A certificate the holder removed is refused unless `re_add`
    (adding it back from the console). `kind`: "usb", or "sim" for a SIM signature.
    """
    row = session.scalar(select(AccountCertificate).where(
        AccountCertificate.sha256_fingerprint == identity.sha256_fingerprint))
    if row is not None and row.account_id != account.id:
        # Identity decides the account, so this means the account's identity changed.
        raise UsbTokenRefused("other_account", detail="certificate bound to another account")
    if row is not None and row.removed_at is not None and not re_add:
        raise UsbTokenRefused("certificate_removed")
    new_certificate = row is None
    if row is None:
        row = _certificate_row(identity, kind)
        account.certificates.append(row)
    row.removed_at = None
    row.last_used_at = utcnow()
    raised_from = account.ial if account.ial < CERTIFICATE_IAL else None
    account.ial = max(account.ial, CERTIFICATE_IAL)
    return Binding(account.id, identity.sha256_fingerprint, identity.serial_hex,
                   new_certificate, raised_from, kind)


def audit_binding(binding: Binding) -> None:
    """Audit a committed binding: a certificate seen for the first time, an IAL raised."""
    if binding.new_certificate:
        record_event(f"{METHODS[binding.kind]}.bind", "success", account_id=binding.account_id,
                     fingerprint=binding.fingerprint[:16], serial=binding.serial_hex)
    if binding.raised_from is not None:
        record_event("account.ial_raised", "success", account_id=binding.account_id,
                     method=METHODS[binding.kind], previous=binding.raised_from,
                     ial=CERTIFICATE_IAL)


def _certificate_row(identity: CertificateIdentity, kind: str = KIND) -> AccountCertificate:
    return AccountCertificate(
        kind=kind, sha256_fingerprint=identity.sha256_fingerprint,
        serial_hex=identity.serial_hex[:64], issuer=(identity.issuer or "")[:200],
        common_name=(identity.common_name or "")[:200] or None, cccd=identity.cccd,
        tax_code=identity.tax_code, budget_code=identity.budget_code,
        not_after=identity.not_after, not_before=identity.not_before, last_used_at=utcnow(),
    )


def login_account(session: Session, identity: CertificateIdentity, *,
                  step_up_account_id: int | None, kind: str = KIND) -> Account:
    """The account a verified certificate logs in to, its use recorded and committed.

    `step_up_account_id`: the browser's session is being raised to level 3, so the
    certificate must be of that same account. `kind`: "usb", or "sim" for a SIM signature.
    """
    account = account_for(session, identity)
    if account is None:
        raise UsbTokenRefused("not_registered", detail=f"{identity.kind} without account")
    if step_up_account_id is not None and account.id != step_up_account_id:
        raise UsbTokenRefused("other_account", detail="step-up with another account's token")
    if account.status != "active":
        raise UsbTokenRefused("account_inactive", detail=f"account {account.status}")
    try:
        binding = bind_certificate(session, account, identity, kind=kind)
    except UsbTokenRefused:
        session.rollback()
        raise
    session.commit()
    audit_binding(binding)
    return account


def add_to_account(session: Session, account: Account, identity: CertificateIdentity, *,
                   kind: str = KIND) -> bool:
    """Bind a certificate from the account console; returns whether the IAL went up.

    The certificate must carry the account's own identity: a citizen's CCCD, an
    enterprise's MST, an agency's budget code.
    """
    if account_for(session, identity) is not account:
        raise UsbTokenRefused("other_account", detail="identity of another account")
    binding = bind_certificate(session, account, identity, re_add=True, kind=kind)
    session.commit()
    audit_binding(binding)
    return binding.raised_from is not None


@dataclass(frozen=True)
class NewAccountData:
    """What the registrant adds to the certificate's identity."""

    email: str | None
    birthdate: date | None
    """Citizens whose certificate carries no birth date: the date they typed (its year must
    match the CCCD); it is kept as unverified."""


def check_kind(identity: CertificateIdentity, account_type: str) -> None:
    """The certificate fits the chosen account type (and a citizen's carries a CCCD)."""
    if identity.kind != account_type:
        raise UsbTokenRefused("wrong_kind", detail=f"{identity.kind} certificate for "
                              f"{account_type}")
    if account_type == "citizen" and identity.cccd is None:
        raise UsbTokenRefused("no_cccd", detail="citizen certificate without CCCD")


def gender_of(cccd: str) -> str:
    """The sex the CCCD encodes: its 4th digit is even for men, odd for women
    (Circular 07/2016/TT-BCA)."""
    return "female" if int(cccd[3]) % 2 else "male"


def display_name(identity: CertificateIdentity) -> str:
    """The holder's name as the account shows it (the CN, else the organisation)."""
    name = identity.common_name or identity.organization or ""
    try:
        return normalize_name(name) if identity.kind == "citizen" else " ".join(name.split())[:100]
    except InvalidField:
        return " ".join(name.split())[:100]


def register_account(session: Session, identity: CertificateIdentity,
                     data: NewAccountData, *, kind: str = KIND) -> Account:
    """Create a level-3 account of the certificate's kind with the certificate bound
    (`kind`: from a USB token, "usb", or a SIM signature, "sim").

    Raises InvalidField when a citizen's birth date disagrees with the CCCD, and
    AccountExists when the identity has an account already (also under a race).
    """
    check_kind(identity, identity.kind)
    citizen = identity.kind == "citizen"
    cccd = identity.cccd if citizen else None
    gender = gender_of(cccd) if cccd else None
    # A date the CA vouched for wins over one typed; a typed one is kept as unverified.
    birthdate = identity.birthdate or data.birthdate
    if cccd:
        if birthdate is None:
            raise InvalidField("birthdate", "Vui lòng nhập ngày sinh.")
        validate_cccd(cccd, birthdate, gender)
    if account_for(session, identity) is not None:
        raise AccountExists
    account = Account(
        subject=secrets.token_urlsafe(32),
        cccd=cccd,
        full_name=display_name(identity),
        birthdate=birthdate if citizen else None,
        birthdate_verified=identity.birthdate is not None or not citizen,
        gender=gender,
        email=data.email,
        email_verified=False,
        password_hash=None,
        account_type=identity.kind,
        tax_code=None if citizen else identity.tax_code,
        budget_code=identity.budget_code if identity.kind == "agency" else None,
        organization=None if citizen else (identity.organization or "")[:200] or None,
        ial=CERTIFICATE_IAL,
        verified_by=METHODS[kind],
        status="active",
    )
    account.certificates.append(_certificate_row(identity, kind))
    session.add(account)
    try:
        session.commit()
    except IntegrityError:
        # Two registrations of one identity at the same moment: the unique index decides.
        session.rollback()
        raise AccountExists from None
    return account
