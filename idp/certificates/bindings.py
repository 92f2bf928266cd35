"""Accounts and the certificates bound to them: find by certificate, bind, list, remove.

An account is found by the identity its certificate carries: the CCCD for a citizen, the
tax code (MST) for an enterprise, the budget-relationship code for an agency. A verified
certificate of that identity is bound to the account on first use (a renewed certificate
is simply a new row) and raises the account to IAL 3: a licensed CA vouched for the same
person or organisation the account was opened for.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.pki import CertificateIdentity
from idp.audit import record_event
from idp.certificates.refusals import CertificateLoginRefused
from idp.interaction.methods import SIM_SIGNATURE, USB_TOKEN
from idp.store.models import Account, AccountCertificate, utcnow

KIND = "usb"
"""The kind of certificate a caller that names none means: a USB token's."""
METHODS = {"usb": USB_TOKEN.name, "sim": SIM_SIGNATURE.name}
"""Audit name of each certificate kind's login method (USB token, SIM signature)."""
CERTIFICATE_IAL = USB_TOKEN.level
"""A CA vouched for the identity in the certificate: the account's identity is proved to
the level the certificate logs in at."""


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
        raise CertificateLoginRefused("other_account",
                                      detail="certificate bound to another account")
    if row is not None and row.removed_at is not None and not re_add:
        raise CertificateLoginRefused("certificate_removed")
    new_certificate = row is None
    if row is None:
        row = certificate_row(identity, kind)
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


def certificate_row(identity: CertificateIdentity, kind: str = KIND) -> AccountCertificate:
    """A new row binding the certificate to an account, used now."""
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
        raise CertificateLoginRefused("not_registered",
                                      detail=f"{identity.kind} without account")
    if step_up_account_id is not None and account.id != step_up_account_id:
        raise CertificateLoginRefused("other_account",
                                      detail="step-up with another account's token")
    if account.status != "active":
        raise CertificateLoginRefused("account_inactive", detail=f"account {account.status}")
    try:
        binding = bind_certificate(session, account, identity, kind=kind)
    except CertificateLoginRefused:
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
        raise CertificateLoginRefused("other_account", detail="identity of another account")
    binding = bind_certificate(session, account, identity, re_add=True, kind=kind)
    session.commit()
    audit_binding(binding)
    return binding.raised_from is not None


def active_certificates(account: Account) -> list[AccountCertificate]:
    """The certificates that may log in to the account, oldest first."""
    return [row for row in account.certificates if row.removed_at is None]


LAST_CERTIFICATE = (
    "Không thể gỡ chứng thư số này: tài khoản chỉ đăng nhập được bằng chứng thư số và đây là "
    "chứng thư số duy nhất còn lại. Hãy thêm chứng thư số mới trước khi gỡ."
)


def remove_certificate(session: Session, account: Account, certificate_id: int) -> str | None:
    """Stop a certificate logging in to the account; returns an error message or None.

    An account without a password keeps at least one certificate.
    """
    active = active_certificates(account)
    row = next((row for row in active if row.id == certificate_id), None)
    if row is None:
        return "Không tìm thấy chứng thư số này trong tài khoản."
    if account.password_hash is None and len(active) == 1:
        return LAST_CERTIFICATE
    row.removed_at = utcnow()
    session.commit()
    record_event("usb_token.remove", "success", account_id=account.id,
                 fingerprint=row.sha256_fingerprint[:16], serial=row.serial_hex)
    return None
