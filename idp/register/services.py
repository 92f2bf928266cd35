"""Registration rules: prove the person against a registry, prove the phone, then create.

A registration lives in the state store until the account exists. Nothing
durable is written before the last step, so a registry that fails or a user
who walks away leaves nothing half-created. Whether the CCCD already has an
account is decided only after the registrant proved control of a phone (or an
e-mail address) that the registry ties to that CCCD.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import date

from sqlalchemy import select

from connectors.base import PersonQuery
from idp.audit import record_event
from idp.provider import provider
from idp.sessions import browser_record
from idp.store.models import Account
from idp.vntime import clock_time
from vnid.person import PersonData, names_equal

METHODS = {"mobile": "carrier", "bhxh": "bhxh", "post": "post"}
"""Registration method -> the `verified_by` it records on the account."""


class RegistrationRefused(Exception):
    """The registry did not confirm the person; the message says what to do (Vietnamese)."""


@dataclass
class Registration:
    """One registration in progress."""

    id: str
    browser: str
    method: str
    person: dict
    phone: str | None
    """Where the OTP goes and the account's OTP phone (E.164)."""
    email: str | None = None
    email_verified: bool = False
    bhxh_code: str | None = None
    proven: bool = False
    """The registrant proved control of the phone (OTP) or the e-mail (link)."""
    created: float = field(default_factory=time.time)

    @property
    def otp_id(self) -> str:
        return f"reg-{self.id}"

    def person_data(self) -> PersonData:
        p = self.person
        return PersonData(p["cccd"], p["full_name"], date.fromisoformat(p["birthdate"]),
                          p["gender"], self.phone or "", self.email)


def _ttl() -> float:
    return provider().settings.registration.ttl


def save_registration(registration: Registration) -> None:
    remaining = registration.created + _ttl() - time.time()
    provider().state.put(f"reg:{registration.id}", asdict(registration), max(1, remaining))


def load_registration(registration_id: str, browser: str) -> Registration | None:
    """The registration, if it exists and was started in this browser."""
    data = browser_record("reg", registration_id, browser)
    return Registration(**data) if data is not None else None


def end_registration(registration: Registration) -> None:
    provider().state.delete(f"reg:{registration.id}")


def registry_check_allowed(cccd: str, ip: str | None) -> str | None:
    """Count one registry check for this address and CCCD; None when allowed, else what to
    tell the registrant (Vietnamese). Checked before any registry call."""
    limits = provider().limits
    for name, who in (("register.checks.address", ip), ("register.checks.cccd", cccd)):
        if not limits.hit(name, who):
            return ("Bạn đã thử đăng ký quá nhiều lần. Vui lòng thử lại sau "
                    f"{clock_time(limits.resets_at(name, who))}.")
    return None


def _query(person: PersonData) -> PersonQuery:
    return PersonQuery(person.cccd, person.full_name, person.birthdate)


def _person_record(person: PersonData, gender: str | None = None) -> dict:
    return {"cccd": person.cccd, "full_name": person.full_name,
            "birthdate": person.birthdate.isoformat(), "gender": gender or person.gender}


def _start(browser: str, method: str, person: dict, phone: str | None, **extra) -> Registration:
    registration = Registration(id=secrets.token_urlsafe(24), browser=browser, method=method,
                                person=person, phone=phone, **extra)
    save_registration(registration)
    return registration


def _refuse(method: str, reason: str, message: str):
    record_event("register.check", "refused", method=method, reason=reason)
    raise RegistrationRefused(message)


def check_mobile(browser: str, person: PersonData) -> Registration:
    """Mobile subscriber: the phone must be registered to this CCCD, name and birth date."""
    check = provider().carrier.check_subscriber(person.phone, _query(person))
    if not check.found or check.status == "not_found":
        _refuse("mobile", "phone_not_found",
                "Số điện thoại không tồn tại hoặc chưa được đăng ký thuê bao. Vui lòng kiểm tra "
                "lại số điện thoại hoặc chọn phương thức đăng ký khác.")
    if check.status != "active":
        _refuse("mobile", "subscription_suspended",
                f"Thuê bao {check.carrier or ''} của bạn đang bị tạm khóa. Vui lòng liên hệ nhà "
                "mạng để mở lại thuê bao hoặc chọn phương thức đăng ký khác.")
    if not check.registered_to_person:
        # One message for every mismatch: the form must not tell strangers, field by
        # field, who owns a phone number.
        _refuse("mobile", "subscriber_mismatch",
                "Số CCCD, họ tên hoặc ngày sinh không khớp với thông tin thuê bao chính chủ của "
                f"số điện thoại này. Vui lòng kiểm tra lại, cập nhật thông tin thuê bao tại cửa "
                f"hàng {check.carrier or 'nhà mạng'}, hoặc đăng ký bằng Bảo hiểm xã hội hay Bưu "
                "điện Việt Nam.")
    record_event("register.check", "success", method="mobile", carrier=check.carrier)
    return _start(browser, "mobile", _person_record(person), person.phone, email=person.email)


def check_bhxh(browser: str, bhxh_code: str, person: PersonData) -> Registration:
    """BHXH: the typed CCCD, name and birth date must match the insured person's record."""
    p = provider()
    insured = p.bhxh.find_insured(bhxh_code)
    if insured is None:
        _refuse("bhxh", "bhxh_not_found",
                "Không tìm thấy mã số BHXH này. Vui lòng kiểm tra lại mã số trên thẻ BHXH hoặc "
                "ứng dụng VssID.")
    if not (insured.cccd == person.cccd and names_equal(insured.full_name, person.full_name)
            and insured.birthdate == person.birthdate):
        _refuse("bhxh", "bhxh_mismatch",
                "Số CCCD, họ tên hoặc ngày sinh không khớp với hồ sơ của mã số BHXH này. Vui "
                "lòng kiểm tra lại hoặc liên hệ cơ quan BHXH để cập nhật thông tin.")
    if insured.phone != person.phone:
        check = p.carrier.check_subscriber(person.phone, _query(person))
        if not check.registered_to_person:
            _refuse("bhxh", "phone_not_owned",
                    "Số điện thoại phải là số đã đăng ký với cơ quan BHXH hoặc là thuê bao chính "
                    "chủ mang tên bạn. Vui lòng nhập số khác hoặc cập nhật thông tin thuê bao.")
    record_event("register.check", "success", method="bhxh")
    return _start(browser, "bhxh", _person_record(person, insured.gender), person.phone,
                  email=person.email, bhxh_code=bhxh_code)


def check_post(browser: str, person: PersonData, activation: str) -> Registration:
    """Vietnam Post: the person must be one Vietnam Post verified; activation goes to the
    phone or e-mail that Vietnam Post holds, never to one typed on this form."""
    answer = provider().post.check_registration(_query(person), person.phone or None,
                                                person.email)
    if not answer.verified:
        _refuse("post", "post_not_verified",
                "Bưu điện Việt Nam chưa xác minh thông tin của bạn. Vui lòng mang CCCD đến bưu "
                "cục gần nhất để được xác minh, hoặc chọn phương thức đăng ký khác.")
    if activation == "sms" and not answer.phone:
        _refuse("post", "post_no_phone",
                "Bưu điện Việt Nam chưa lưu số điện thoại của bạn. Vui lòng chọn kích hoạt qua "
                "thư điện tử.")
    if activation == "email" and not answer.email:
        _refuse("post", "post_no_email",
                "Bưu điện Việt Nam chưa lưu địa chỉ thư điện tử của bạn. Vui lòng chọn kích hoạt "
                "bằng mã OTP qua SMS.")
    record_event("register.check", "success", method="post", activation=activation)
    if activation == "sms":
        return _start(browser, "post", _person_record(person), answer.phone, email=answer.email)
    return _start(browser, "post", _person_record(person), None, email=answer.email)


def confirm_phone_for_email_registration(registration: Registration, phone: str) -> None:
    """After an e-mail activation, the OTP phone must be a subscription in the person's name."""
    p = provider()
    person = registration.person_data()
    check = p.carrier.check_subscriber(phone, _query(person))
    if not check.registered_to_person:
        _refuse("post", "phone_not_owned",
                "Số điện thoại nhận OTP phải là thuê bao chính chủ mang tên bạn. Vui lòng nhập số "
                "khác hoặc cập nhật thông tin thuê bao tại nhà mạng.")
    registration.phone = phone
    registration.proven = False
    save_registration(registration)


def send_activation_email(registration: Registration, base_url: str) -> None:
    """E-mail the one-time activation link (valid as long as the registration)."""
    token = secrets.token_urlsafe(32)
    provider().state.put(f"reg-email:{token}", {"r": registration.id}, _ttl())
    provider().email.send(
        registration.email,
        "Kích hoạt tài khoản định danh Cổng Dịch vụ công Quốc gia",
        "Xin chào,\n\nĐể tiếp tục đăng ký tài khoản, vui lòng mở liên kết sau (dùng được một "
        f"lần):\n{base_url}?token={token}\n\nNếu bạn không đăng ký, hãy bỏ qua thư này.",
    )
    record_event("register.email_sent", "success", method="post")


def activate_by_email(token: str, browser: str) -> Registration | None:
    """The registration behind a one-time activation link opened in its own browser.

    A link opened in another browser (a mail app's preview, say) is left unused.
    """
    if not token or len(token) > 64:
        return None
    record = provider().state.get(f"reg-email:{token}")
    registration = load_registration(record["r"], browser) if record else None
    if registration is None or provider().state.take(f"reg-email:{token}") is None:
        return None  # unknown, other browser, or used by a concurrent request just now
    return registration


def cccd_has_account(cccd: str) -> bool:
    """Asked only after the registrant proved control of a matching phone or e-mail."""
    return provider().db.session.scalar(select(Account.id).where(Account.cccd_is(cccd))) is not None
