"""Self-service recovery of a lost OTP phone, after the password step of a login.

The new phone must be registered at the carrier to the account's own CCCD, name
and birth date, and must receive an OTP. Only then does it replace the lost one;
the old number gets a notice and every session of the account ends (portals are
told). A refusal changes nothing.
"""

from __future__ import annotations

from enum import Enum

from idp.account.phones import carrier_check_allowed, carrier_confirms, replace_lost_phone
from idp.account.services import end_other_sessions, notify_phone
from idp.audit import record_event
from idp.provider import provider
from idp.store.models import Account
from vnid.person import mask_cccd, mask_phone


class PhoneCheck(Enum):
    CONFIRMED = "confirmed"
    REFUSED = "refused"
    CURRENT_PHONE = "current_phone"
    LIMITED = "limited"


MESSAGES = {
    PhoneCheck.REFUSED: (
        "Nhà mạng chưa xác nhận số điện thoại này là thuê bao chính chủ đứng tên số định danh "
        "của bạn, nên số điện thoại nhận OTP chưa được thay đổi."
    ),
    PhoneCheck.CURRENT_PHONE: (
        "Đây là số điện thoại đang nhận OTP của tài khoản. Vui lòng nhập số điện thoại mới."
    ),
    PhoneCheck.LIMITED: (
        "Bạn đã kiểm tra quá nhiều số điện thoại. Vui lòng thử lại sau hoặc đến bộ phận "
        "một cửa gần nhất để được hỗ trợ."
    ),
}


def check_new_phone(account: Account, phone: str, login_id: str) -> PhoneCheck:
    """Ask the carrier whether `phone` (E.164) is the account holder's own subscription.

    Raises ConnectorUnavailable when the carrier cannot answer (the citizen may retry).
    """
    default = account.default_phone
    if default is not None and default.phone == phone:
        return PhoneCheck.CURRENT_PHONE
    if not provider().limits.hit("lost_phone.checks", login_id) or not (
        carrier_check_allowed(account.id)
    ):
        record_event("phone.recover", "refused", account_id=account.id, reason="limit")
        return PhoneCheck.LIMITED
    if not carrier_confirms(account, phone):
        record_event("phone.recover", "refused", account_id=account.id, reason="carrier",
                     phone_suffix=phone[-3:])
        return PhoneCheck.REFUSED
    record_event("phone.recover_check", "success", account_id=account.id,
                 phone_suffix=phone[-3:])
    return PhoneCheck.CONFIRMED


def recover_phone(account: Account, new_phone: str) -> int:
    """Put the proven new phone in place of the lost one; end every session of the account.

    Returns how many sessions ended. The caller then starts the new session of this login.
    """
    old = replace_lost_phone(account, new_phone)
    ended = end_other_sessions(account.id, None)
    record_event("phone.recover", "success", account_id=account.id,
                 phone_suffix=new_phone[-3:], ended_sessions=ended)
    notify_phone(old, f"Số điện thoại nhận OTP của tài khoản định danh "
                 f"{mask_cccd(account.cccd)} đã được đổi sang {mask_phone(new_phone)}; "
                 "số này không còn nhận OTP của tài khoản.")
    return ended
