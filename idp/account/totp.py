"""Authenticator app (TOTP, RFC 6238) as the second factor instead of SMS.

Enrolment keeps a fresh secret pending (sealed) in the state store until the
citizen types a valid code, then stores it sealed on the account; the login checks
codes with `idp.security.totp.verify_account_code`.
"""

from __future__ import annotations

import pyotp
import segno

from idp.account.services import notify_phone
from idp.audit import record_event
from idp.provider import provider
from idp.security import totp
from idp.security.sealed import seal
from idp.store.models import Account
from vnid.person import mask_cccd

PENDING_TTL = 600
ISSUER_NAME = "Tài khoản định danh DVCQG"


def _pending_key(account_id: int) -> str:
    return f"totp-pending:{account_id}"


def pending_secret(account: Account) -> str:
    """The secret being enrolled (the same one on every reload until it expires)."""
    secret, fresh = totp.pending_secret(_pending_key(account.id), PENDING_TTL)
    if fresh:
        provider().limits.clear("account.totp_enrol_tries", account.id)
    return secret


def provisioning_qr(account: Account, secret: str) -> str:
    """The otpauth:// URI as an inline SVG data URI (the CSP allows `img-src data:`)."""
    # Organisations have no CCCD: their tax or budget code names the account in the app.
    label = (mask_cccd(account.cccd) if account.cccd
             else account.tax_code or account.budget_code or account.full_name)
    uri = pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=ISSUER_NAME)
    return segno.make(uri, error="m").svg_data_uri(scale=4)


def confirm_enrolment(account: Account, code: str) -> str | None:
    """Enrol the pending secret if `code` is valid; returns why not, or None when enrolled."""
    p = provider()
    secret = totp.offered_secret(_pending_key(account.id))
    if secret is None:
        return "Mã QR đã hết hạn. Vui lòng quét lại mã mới bên dưới."
    if not p.limits.hit("account.totp_enrol_tries", account.id):
        p.state.delete(_pending_key(account.id))
        return "Bạn đã nhập sai quá số lần cho phép. Vui lòng quét lại mã mới bên dưới."
    if not totp.code_matches(secret, code):
        record_event("totp.enrol", "failure", account_id=account.id)
        return "Mã xác thực không đúng. Hãy nhập mã 6 chữ số đang hiện trên ứng dụng."
    totp.first_use(str(account.id), code, totp.REPLAY_WINDOW)
    account.totp_secret = seal(secret, totp.ACCOUNT_PURPOSE)
    p.db.session.commit()
    p.state.delete(_pending_key(account.id))
    record_event("totp.enrol", "success", account_id=account.id)
    notify_phone(account.default_phone, "Ứng dụng xác thực vừa được đăng ký cho tài khoản "
                 "định danh của bạn.")
    return None


def remove(account: Account) -> None:
    """Forget the account's authenticator app."""
    account.totp_secret = None
    provider().db.session.commit()
    record_event("totp.remove", "success", account_id=account.id)
    notify_phone(account.default_phone, "Ứng dụng xác thực đã bị gỡ khỏi tài khoản định danh "
                 "của bạn.")

