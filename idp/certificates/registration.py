"""Registration with a certificate (USB token or SIM signature), from the signature to
the account.

The verified certificate's identity waits in the state store, bound to the browser, for
what the registrant adds (an e-mail, a citizen's birth date). Nothing durable is
written before the last step, so a registrant who walks away leaves nothing behind; that
step opens a level-3 account of the certificate's kind with the certificate bound.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.pki import CertificateIdentity
from idp.certificates.bindings import CERTIFICATE_IAL, KIND, METHODS, account_for, certificate_row
from idp.certificates.refusals import CertificateLoginRefused
from idp.provider import provider
from idp.sessions import browser_record
from idp.store.models import Account
from vnid.person import InvalidField, normalize_name, validate_cccd

ACCOUNT_TYPES = ("citizen", "enterprise", "agency")
"""The kinds of identity a certificate carries, each the type of account it opens."""
ACCOUNT_TYPE_NAMES = {"citizen": "Công dân", "enterprise": "Doanh nghiệp",
                      "agency": "Cơ quan nhà nước"}
STATE_PREFIX = "cert-reg"


@dataclass
class PendingRegistration:
    """A certificate verified for registration, waiting for the registrant's additions."""

    id: str
    browser: str
    identity: dict
    created: float = field(default_factory=time.time)
    kind: str = KIND
    """Where the certificate was used: "usb" token or "sim" signature."""

    @property
    def key(self) -> str:
        """Where the registration is kept in the state store."""
        return f"{STATE_PREFIX}:{self.id}"

    def certificate_identity(self) -> CertificateIdentity:
        """The identity read from the verified certificate."""
        values = dict(self.identity)
        if values.get("birthdate"):
            values["birthdate"] = date.fromisoformat(values["birthdate"])
        for name in ("not_after", "not_before"):
            if values.get(name):
                values[name] = datetime.fromisoformat(values[name])
        return CertificateIdentity(**values)


def start_registration(identity: CertificateIdentity, browser: str,
                       kind: str = KIND) -> PendingRegistration:
    """Keep the verified identity for the rest of the registration's lifetime."""
    values = dataclasses.asdict(identity)
    values["not_after"] = identity.not_after.isoformat()
    values["birthdate"] = identity.birthdate.isoformat() if identity.birthdate else None
    values["not_before"] = identity.not_before.isoformat() if identity.not_before else None
    registration = PendingRegistration(secrets.token_urlsafe(24), browser, values, kind=kind)
    provider().state.put(registration.key, dataclasses.asdict(registration),
                         provider().settings.registration.ttl)
    return registration


def load_registration(registration_id: str, browser: str) -> PendingRegistration | None:
    """The registration, if it exists and was started in this browser."""
    data = browser_record(STATE_PREFIX, registration_id, browser)
    return PendingRegistration(**data) if data is not None else None


def end_registration(registration: PendingRegistration) -> None:
    """Forget the registration: it opened its account, or never will."""
    provider().state.delete(registration.key)


class AccountExists(Exception):
    """An account for this identity exists already."""


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
        raise CertificateLoginRefused(
            "wrong_kind", detail=f"{identity.kind} certificate for {account_type}")
    if account_type == "citizen" and identity.cccd is None:
        raise CertificateLoginRefused("no_cccd", detail="citizen certificate without CCCD")


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
    account.certificates.append(certificate_row(identity, kind))
    session.add(account)
    try:
        session.commit()
    except IntegrityError:
        # Two registrations of one identity at the same moment: the unique index decides.
        session.rollback()
        raise AccountExists from None
    return account
