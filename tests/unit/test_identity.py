"""Tests for vnid.person: CCCD, phone, name, birth date, gender, e-mail, whole person.

Over 400 lines: mostly tables of valid and invalid inputs, one per rule."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timedelta

import pytest

from vnid.person import (
    InvalidField,
    InvalidPerson,
    PersonData,
    mask_cccd,
    mask_phone,
    names_equal,
    normalize_email,
    normalize_name,
    normalize_phone,
    parse_birthdate,
    parse_gender,
    validate_cccd,
    validate_person,
)
from vnid.provinces import PROVINCE_CODES


def _error(call, *args, **kwargs) -> InvalidField:
    with pytest.raises(InvalidField) as info:
        call(*args, **kwargs)
    return info.value


# --- CCCD -------------------------------------------------------------------


def test_province_table_has_the_63_assigned_codes():
    assert len(PROVINCE_CODES) == 63
    assert PROVINCE_CODES["001"] == "Hà Nội"
    assert PROVINCE_CODES["079"] == "Hồ Chí Minh"
    assert PROVINCE_CODES["096"] == "Cà Mau"
    # Gaps in the numbering belong to no province.
    assert not {"003", "005", "050", "097", "000"} & PROVINCE_CODES.keys()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("001090012345", "001090012345"),
        (" 079 195 001234 ", "079195001234"),
        ("096301000001", "096301000001"),  # woman born 2001
    ],
)
def test_valid_cccd_returned_without_spaces(value, expected):
    assert validate_cccd(value) == expected


def test_empty_cccd_asks_for_it():
    error = _error(validate_cccd, "   ")
    assert error.field == "cccd"
    assert error.message == "Vui lòng nhập số định danh cá nhân (CCCD)."


@pytest.mark.parametrize(
    "value",
    ["00109001234", "0010900123456", "00109001234a", "001-090-012345", "００１０９００１２３４５"],
)
def test_cccd_must_be_twelve_ascii_digits(value):
    error = _error(validate_cccd, value)
    assert error.message == "Số định danh cá nhân (CCCD) phải gồm đúng 12 chữ số."


@pytest.mark.parametrize("province", ["000", "003", "050", "097", "999"])
def test_cccd_with_unassigned_province_refused(province):
    error = _error(validate_cccd, f"{province}090012345")
    assert error.message == "Mã tỉnh/thành phố (3 số đầu) của số CCCD không hợp lệ."


@pytest.mark.parametrize("century_digit", "456789")
def test_cccd_of_a_birth_after_2099_refused(century_digit):
    error = _error(validate_cccd, f"001{century_digit}90012345")
    assert "thế kỷ" in error.message


def test_cccd_with_a_birth_year_still_to_come_refused():
    # Two years ahead, so that a host clock behind Vietnam's on 31 December still agrees.
    future_year = date.today().year + 2
    error = _error(validate_cccd, f"0012{future_year % 100:02d}012345")
    assert "thế kỷ" in error.message


@pytest.mark.parametrize(
    ("cccd", "birthdate"),
    [
        ("001090012345", date(1990, 5, 1)),
        ("001190012345", date(1990, 5, 1)),
        ("001205012345", date(2005, 12, 31)),
        ("001305012345", date(2005, 1, 1)),
    ],
)
def test_cccd_agrees_with_birth_year(cccd, birthdate):
    assert validate_cccd(cccd, birthdate=birthdate) == cccd


@pytest.mark.parametrize(
    ("cccd", "birthdate"),
    [
        ("001090012345", date(1991, 1, 1)),  # wrong year
        ("001205012345", date(1905, 1, 1)),  # 2 means 2005, not 1905
        ("001005012345", date(2005, 1, 1)),  # 0 means 1905, not 2005
    ],
)
def test_cccd_disagreeing_with_birth_year_refused(cccd, birthdate):
    assert _error(validate_cccd, cccd, birthdate=birthdate).message == (
        "Số CCCD không khớp với năm sinh."
    )


def test_cccd_century_digit_parity_gives_gender():
    assert validate_cccd("001090012345", gender="male")
    assert validate_cccd("001190012345", gender="female")
    assert validate_cccd("001305012345", gender="female")
    assert _error(validate_cccd, "001090012345", gender="female").message == (
        "Số CCCD không khớp với giới tính."
    )
    assert _error(validate_cccd, "001205012345", gender="female").field == "cccd"


def test_cccd_rejects_a_gender_value_it_does_not_understand():
    with pytest.raises(ValueError, match="gender"):
        validate_cccd("001090012345", gender="nam")


def test_mask_cccd():
    assert mask_cccd("001090012345") == "001*******45"
    with pytest.raises(ValueError):
        mask_cccd("12345")


# --- Phone ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "0912345678",
        "+84912345678",
        "84912345678",
        "0084912345678",
        " 091 234 5678 ",
        "0912.345.678",
        "091-234-5678",
        "(+84) 912 345 678",
    ],
)
def test_mobile_number_forms_normalised_to_e164(value):
    assert normalize_phone(value) == "+84912345678"


def test_other_mobile_ranges_accepted():
    assert normalize_phone("0362345678") == "+84362345678"  # Viettel 03x
    assert normalize_phone("0862345678") == "+84862345678"


@pytest.mark.parametrize(
    "value",
    [
        "02438253535",  # Hà Nội landline
        "+12025550123",  # United States
        "+66812345678",  # Thailand mobile
        "18001234",  # toll-free service number
        "091234567",  # one digit short
        "09123456789",  # one digit long
        "0912345678abc",
        "abc",
        "+",
        "0" * 40,
    ],
)
def test_non_mobile_or_foreign_or_garbage_phone_refused(value):
    error = _error(normalize_phone, value)
    assert error.field == "phone"
    assert error.message == "Số điện thoại di động không hợp lệ."


def test_empty_phone_asks_for_it():
    assert _error(normalize_phone, "").message == "Vui lòng nhập số điện thoại di động."


def test_mask_phone():
    assert mask_phone("+84912345678") == "+84 91*****78"
    with pytest.raises(ValueError):
        mask_phone("not a number")


# --- Name -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Nguyễn Văn An", "Nguyễn Văn An"),
        ("  Trần   Thị\tBích  ", "Trần Thị Bích"),
        ("Đỗ", "Đỗ"),
        ("Tôn Nữ Thị Huyền Trang", "Tôn Nữ Thị Huyền Trang"),
        ("H’Hen Niê", "H'Hen Niê"),  # Ê Đê name, typographic apostrophe
        ("Ksor Y'Moan", "Ksor Y'Moan"),
        ("John Smith", "John Smith"),
    ],
)
def test_valid_names_normalised(value, expected):
    assert normalize_name(value) == expected


def test_decomposed_name_comes_back_composed():
    decomposed = unicodedata.normalize("NFD", "Phạm Thị Hường")
    assert normalize_name(decomposed) == unicodedata.normalize("NFC", "Phạm Thị Hường")


@pytest.mark.parametrize(
    "value",
    [
        "Nguyễn Văn 2",
        "Lê Văn A1",
        "Trần 😀",
        "Nguyễn-Văn",
        "Lê.Văn",
        "'Hen",
        "H''Hen",
        "Иван Петров",  # Cyrillic look-alikes
        "Trần\u0301\u0301",  # stacked combining accents
        "Lê\u200bVăn",  # zero-width space
    ],
)
def test_names_with_digits_symbols_or_other_scripts_refused(value):
    error = _error(normalize_name, value)
    assert error.field == "full_name"
    assert error.message == "Họ và tên chỉ gồm chữ cái tiếng Việt và dấu cách."


@pytest.mark.parametrize("value", ["A", "a" * 101, "Nguyễn " * 20])
def test_name_length_bounds(value):
    assert _error(normalize_name, value).message == "Họ và tên phải dài từ 2 đến 100 ký tự."


def test_empty_name_asks_for_it():
    assert _error(normalize_name, " \t ").message == "Vui lòng nhập họ và tên."


def test_names_equal_ignores_case_spacing_and_normal_form():
    nfc = "Nguyễn Thị Ánh Tuyết"
    nfd = unicodedata.normalize("NFD", "NGUYỄN  thị ánh   TUYẾT ")
    assert nfc != unicodedata.normalize("NFC", nfd)
    assert names_equal(nfc, nfd)
    assert names_equal("Đặng Văn Lâm", "đặng văn lâm")
    assert names_equal("H'Hen Niê", "h’hen niê")


def test_names_equal_keeps_diacritics_significant():
    assert not names_equal("Lê Văn An", "Le Van An")
    assert not names_equal("Đức", "Duc")


# --- Birth date, gender, e-mail ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1990-05-31", date(1990, 5, 31)),
        ("31/05/1990", date(1990, 5, 31)),
        ("1/2/2000", date(2000, 2, 1)),
        (" 29/02/2000 ", date(2000, 2, 29)),
        ("1900-01-01", date(1900, 1, 1)),
        (date(1985, 3, 4), date(1985, 3, 4)),
        (datetime(1985, 3, 4, 12, 30), date(1985, 3, 4)),
    ],
)
def test_birthdate_formats(value, expected):
    assert parse_birthdate(value) == expected


@pytest.mark.parametrize(
    "value",
    ["31/02/1990", "1990/05/31", "05-31-1990", "31.05.1990", "90-05-31", "hôm qua", "١٩٩٠-٠٥-٣١"],
)
def test_birthdate_in_wrong_format_refused(value):
    assert _error(parse_birthdate, value).message.startswith("Ngày sinh không hợp lệ")


def test_birthdate_in_future_or_before_1900_refused():
    future = date.today() + timedelta(days=2)
    assert _error(parse_birthdate, future.isoformat()).message == (
        "Ngày sinh không được ở tương lai."
    )
    assert _error(parse_birthdate, "31/12/1899").message == "Năm sinh phải từ 1900 trở về sau."
    assert _error(parse_birthdate, "").message == "Vui lòng nhập ngày sinh."


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("male", "male"),
        ("Nam", "male"),
        ("NAM", "male"),
        ("female", "female"),
        ("Nữ", "female"),
        (unicodedata.normalize("NFD", "NỮ"), "female"),
        ("nu", "female"),
        (" Female ", "female"),
    ],
)
def test_gender_values(value, expected):
    assert parse_gender(value) == expected


def test_unknown_or_empty_gender_refused():
    assert _error(parse_gender, "khác").message == "Giới tính phải là Nam hoặc Nữ."
    assert _error(parse_gender, "").message == "Vui lòng chọn giới tính."


def test_email_normalised_and_empty_is_none():
    assert (
        normalize_email(" Nguyen.Van-An+sso@Example.GOV.vn ") == "Nguyen.Van-An+sso@example.gov.vn"
    )
    assert normalize_email("") is None
    assert normalize_email(None) is None


@pytest.mark.parametrize(
    "value",
    [
        "plainaddress",
        "@example.vn",
        "an@",
        "an@localhost",
        "an@@example.vn",
        "an..b@example.vn",
        ".an@example.vn",
        "an b@example.vn",
        "an@exa_mple.vn",
        "an@-example.vn",
        "an@example..vn",
        "an@1.2.3.4",
        "nguyễn@example.vn",
        "a" * 65 + "@example.vn",
        "an@" + "a" * 250 + ".vn",
    ],
)
def test_bad_email_refused(value):
    error = _error(normalize_email, value)
    assert (error.field, error.message) == ("email", "Địa chỉ email không hợp lệ.")


# --- Whole person -----------------------------------------------------------

GOOD_FORM = {
    "cccd": "079195001234",
    "full_name": " Lê  Thị Hồng Nhung ",
    "birthdate": "15/07/1995",
    "gender": "Nữ",
    "phone": "0987 654 321",
    "email": "",
}


def test_validate_person_returns_normalised_data():
    person = validate_person(GOOD_FORM)
    assert person == PersonData(
        cccd="079195001234",
        full_name="Lê Thị Hồng Nhung",
        birthdate=date(1995, 7, 15),
        gender="female",
        phone="+84987654321",
        email=None,
    )


def test_person_repr_masks_identifiers():
    text = repr(validate_person(GOOD_FORM))
    assert "079195001234" not in text and "987654321" not in text
    assert "Nhung" not in text
    assert "079*******34" in text
    # A repr must not fail, even for data that never went through validation.
    assert "?" in repr(PersonData("x", "y", date(2000, 1, 1), "male", "z", None))


def test_validate_person_reports_every_error_at_once():
    raw = {
        "cccd": "12345",
        "full_name": "Nhung 2",
        "birthdate": "32/01/1995",
        "gender": "x",
        "phone": "02438253535",
        "email": "not-an-email",
    }
    with pytest.raises(InvalidPerson) as info:
        validate_person(raw)
    assert set(info.value.errors) == {"cccd", "full_name", "birthdate", "gender", "phone", "email"}
    assert info.value.errors["phone"] == "Số điện thoại di động không hợp lệ."


def test_validate_person_missing_fields_reported_as_required():
    with pytest.raises(InvalidPerson) as info:
        validate_person({})
    assert info.value.errors == {
        "full_name": "Vui lòng nhập họ và tên.",
        "birthdate": "Vui lòng nhập ngày sinh.",
        "gender": "Vui lòng chọn giới tính.",
        "cccd": "Vui lòng nhập số định danh cá nhân (CCCD).",
        "phone": "Vui lòng nhập số điện thoại di động.",
    }


def test_validate_person_cross_checks_cccd_with_birthdate_and_gender():
    with pytest.raises(InvalidPerson) as info:
        validate_person({**GOOD_FORM, "birthdate": "15/07/1996"})
    assert info.value.errors == {"cccd": "Số CCCD không khớp với năm sinh."}

    with pytest.raises(InvalidPerson) as info:
        validate_person({**GOOD_FORM, "gender": "nam"})
    assert info.value.errors == {"cccd": "Số CCCD không khớp với giới tính."}


def test_validate_person_skips_cross_check_when_birthdate_itself_is_bad():
    with pytest.raises(InvalidPerson) as info:
        validate_person({**GOOD_FORM, "birthdate": "tomorrow"})
    assert set(info.value.errors) == {"birthdate"}
