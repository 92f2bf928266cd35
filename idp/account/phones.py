"""OTP phones of an account: carrier check, proof by OTP, add, remove, default, replace.

A phone is added only when the carrier says it is registered to the account's
own CCCD, name and birth date ("chính chủ") and an OTP sent to it comes back.
The account always keeps at least one phone.
"""

from __future__ import annotations

import secrets

from connectors.base import PersonQuery
from idp.account.services import notify_phone
from idp.accounts import replace_default_phone
from idp.audit import record_event
from idp.provider import provider
from idp.sessions import browser_record
from idp.store.models import Account, OtpPhone
from vnid.person import mask_phone


def person_of(account: Account) -> PersonQuery:
    """The account's identity as the carrier compares it with a subscription."""
    return PersonQuery(account.cccd, account.full_name, account.birthdate)


def carrier_check_allowed(account_id: int) -> bool:
    """Count one carrier lookup for the account; False once the daily cap is reached."""
    return provider().limits.hit("carrier.checks.account", account_id)


def carrier_confirms(account: Account, phone: str) -> bool:
    """Whether the carrier says `phone` is registered to the account's own CCCD ("chính chủ").

    Raises ConnectorUnavailable when the carrier cannot answer.
    """
    return provider().carrier.check_subscriber(phone, person_of(account)).registered_to_person


def record_phone_refused(account: Account, phone: str) -> None:
    """Audit a phone the carrier did not confirm as the citizen's own."""
    record_event("phone.add", "refused", account_id=account.id, reason="carrier",
                 phone_suffix=phone[-3:])


def begin_phone_add(account_id: int, phone: str, browser: str) -> str:
    """Remember the carrier-confirmed phone until its OTP is typed; returns the OTP id."""
    otp_id = f"pa-{secrets.token_urlsafe(16)}"
    provider().state.put(f"phone-add:{account_id}",
                         {"otp": otp_id, "phone": phone, "browser": browser},
                         provider().settings.session.transaction_ttl)
    return otp_id


def pending_phone_add(account_id: int, browser: str) -> dict | None:
    """The phone being added from this browser, if any."""
    return browser_record("phone-add", str(account_id), browser)


def end_phone_add(account_id: int) -> None:
    """Forget the phone being added (done, or too many wrong codes)."""
    provider().state.delete(f"phone-add:{account_id}")


def add_phone(account: Account, phone: str) -> None:
    """Bind a phone proven by OTP and confirmed by the carrier."""
    if any(existing.phone == phone for existing in account.phones):
        return
    account.phones.append(OtpPhone(phone=phone, is_default=not account.phones))
    provider().db.session.commit()
    record_event("phone.add", "success", account_id=account.id, phone_suffix=phone[-3:])
    notify_phone(account.default_phone, f"Số điện thoại {mask_phone(phone)} vừa được thêm "
                 "để nhận mã OTP của tài khoản định danh.")


def _own_phone(account: Account, phone_id: int) -> OtpPhone | None:
    return next((phone for phone in account.phones if phone.id == phone_id), None)


def remove_phone(account: Account, phone_id: int) -> str | None:
    """Remove an OTP phone; returns why not, or None when removed. Never the last one."""
    phone = _own_phone(account, phone_id)
    if phone is None:
        return "Không tìm thấy số điện thoại này trong tài khoản."
    if len(account.phones) == 1:
        return ("Không thể xóa số điện thoại duy nhất nhận OTP. "
                "Hãy thêm số mới trước khi xóa số này.")
    account.phones.remove(phone)
    if phone.is_default:
        account.phones[0].is_default = True
    provider().db.session.commit()
    record_event("phone.remove", "success", account_id=account.id, phone_suffix=phone.phone[-3:])
    notify_phone(account.default_phone, f"Số điện thoại {mask_phone(phone.phone)} đã bị gỡ "
                 "khỏi tài khoản định danh của bạn.")
    return None


def set_default_phone(account: Account, phone_id: int) -> str | None:
    """Make one of the account's phones the one that receives OTP by default."""
    phone = _own_phone(account, phone_id)
    if phone is None:
        return "Không tìm thấy số điện thoại này trong tài khoản."
    previous = account.default_phone
    for other in account.phones:
        other.is_default = other is phone
    provider().db.session.commit()
    record_event("phone.default", "success", account_id=account.id,
                 phone_suffix=phone.phone[-3:])
    if previous is not None and previous is not phone:
        notify_phone(previous, f"Số nhận OTP mặc định của tài khoản định danh đã được đổi "
                     f"sang {mask_phone(phone.phone)}.")
    return None


def replace_lost_phone(account: Account, new_phone: str) -> str | None:
    """Lost phone: `new_phone` becomes the default and the old default is removed.

    Returns the old default number (to notify), or None when there was none.
    """
    lost = replace_default_phone(account, new_phone)
    provider().db.session.commit()
    return lost
