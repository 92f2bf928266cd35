"""The fields of each registration form, in the order and wording of the portal's guides."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from idp.provider import provider
from idp.security.passwords import check_password_policy, password_user_inputs
from vnid.person import InvalidField

GENDERS = [("male", "Nam"), ("female", "Nữ")]
ACTIVATIONS = [("sms", "Mã OTP qua tin nhắn SMS"), ("email", "Liên kết gửi qua thư điện tử")]
BHXH_CODE = re.compile(r"^\d{10}$")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"
    required: bool = True
    hint: str = ""
    options: list = field(default_factory=list)


@dataclass(frozen=True)
class FormSpec:
    title: str
    intro: str
    fields: list[Field]
    optional: tuple[str, ...] = ("email",)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def check_bhxh_code(self, value: str) -> str | None:
        if "bhxh_code" not in self.field_names:
            return None
        if not BHXH_CODE.match(value):
            raise InvalidField("bhxh_code", "Mã số BHXH gồm đúng 10 chữ số.")
        return value


CCCD = Field("cccd", "Số định danh cá nhân (CCCD)", hint="12 chữ số")
NAME = Field("full_name", "Họ và tên", hint="Như trên thẻ CCCD")
BIRTHDATE = Field("birthdate", "Ngày sinh", kind="date")
GENDER = Field("gender", "Giới tính", kind="select", options=GENDERS)
EMAIL = Field("email", "Thư điện tử", kind="email", required=False)

FORMS = {
    "mobile": FormSpec(
        "Đăng ký bằng thuê bao di động",
        "Số điện thoại phải là thuê bao chính chủ, đăng ký đúng số CCCD, họ tên và ngày sinh "
        "của bạn tại nhà mạng.",
        [CCCD, NAME, BIRTHDATE, GENDER, Field("phone", "Số điện thoại di động", kind="tel"),
         EMAIL],
    ),
    "bhxh": FormSpec(
        "Đăng ký bằng mã số Bảo hiểm xã hội",
        "Thông tin bạn nhập phải khớp với hồ sơ tại cơ quan Bảo hiểm xã hội. Số điện thoại phải "
        "là số đã đăng ký với BHXH hoặc là thuê bao chính chủ của bạn.",
        [Field("bhxh_code", "Mã số BHXH", hint="10 chữ số, in trên thẻ BHXH"), CCCD, NAME,
         BIRTHDATE, Field("phone", "Số điện thoại di động", kind="tel"), EMAIL],
        optional=("email", "gender"),
    ),
    "post": FormSpec(
        "Đăng ký qua Bưu điện Việt Nam",
        "Dành cho người đã được Bưu điện Việt Nam xác minh thông tin. Mã kích hoạt được gửi tới "
        "số điện thoại hoặc thư điện tử mà Bưu điện Việt Nam đang lưu.",
        [CCCD, NAME, BIRTHDATE, GENDER,
         Field("phone", "Số điện thoại di động", kind="tel", required=False), EMAIL,
         Field("activation", "Kích hoạt tài khoản bằng", kind="radio", options=ACTIVATIONS)],
        optional=("email", "phone"),
    ),
}


def password_problems(registration, password: str, confirm: str) -> list[str]:
    """Everything wrong with the chosen password, in Vietnamese (empty when acceptable)."""
    person = registration.person
    problems = check_password_policy(
        password,
        password_user_inputs(person["full_name"], person["cccd"],
                             date.fromisoformat(person["birthdate"]), registration.phone),
        min_score=provider().settings.passwords.min_zxcvbn_score,
    )
    if password and password != confirm:
        problems.append("Mật khẩu nhập lại không khớp.")
    return problems
