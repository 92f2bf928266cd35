"""The certificates (USB token, SIM) that may log in to an account, as the console
lists them and lets the owner remove one."""

from __future__ import annotations

from sqlalchemy.orm import Session

from idp.audit import record_event
from idp.store.models import Account, AccountCertificate, utcnow


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
