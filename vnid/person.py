"""Validation and normalisation of a citizen's identity data.

Every check raises :class:`InvalidField` whose ``message`` is Vietnamese text
ready to show next to the form field. Messages never quote the submitted
value, so an exception that reaches a log carries no personal data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TypeVar

import phonenumbers

from vnid.provinces import PROVINCE_CODES

MIN_BIRTH_YEAR = 1900
NAME_MIN_LENGTH = 2
NAME_MAX_LENGTH = 100

# Vietnam has kept UTC+7 without daylight saving since 1975; a fixed offset
# avoids depending on the host's time-zone database.
_VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")

_T = TypeVar("_T")


class InvalidField(ValueError):
    """One field failed validation; ``message`` is the Vietnamese text for the user."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidPerson(ValueError):
    """Several fields may have failed; ``errors`` maps each field to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = dict(errors)


def _today() -> date:
    return datetime.now(_VIETNAM_TZ).date()


# --- Personal identification number (CCCD) ---------------------------------


# The century digit is even for men and odd for women.
_SEX_BY_PARITY = ("male", "female")


def validate_cccd(value: str, birthdate: date | None = None, gender: str | None = None) -> str:
    """Check a 12-digit personal identification number and return it without spaces.

    Layout (Circular 07/2016/TT-BCA, amended by 59/2021/TT-BCA): 3 digits province
    of birth registration, 1 digit century and sex (even = male, odd = female;
    0/1 → 1900s, 2/3 → 2000s, 4/5 → 2100s, 6/7 → 2200s, 8/9 → 2300s), 2 digits
    year of birth, 6 random digits. ``birthdate`` and ``gender`` ("male" or
    "female"), when known, must agree with digits 4–6.
    """
    if gender not in (None, "male", "female"):
        raise ValueError(f"gender must be 'male' or 'female', not {gender!r}")
    cccd = "".join(value.split())
    if not cccd:
        raise InvalidField("cccd", "Vui lòng nhập số định danh cá nhân (CCCD).")
    if len(cccd) != 12 or not (cccd.isascii() and cccd.isdigit()):
        raise InvalidField("cccd", "Số định danh cá nhân (CCCD) phải gồm đúng 12 chữ số.")
    if cccd[:3] not in PROVINCE_CODES:
        raise InvalidField("cccd", "Mã tỉnh/thành phố (3 số đầu) của số CCCD không hợp lệ.")
    century_digit = int(cccd[3])
    birth_year = 1900 + 100 * (century_digit // 2) + int(cccd[4:6])
    # Codes 4–9 (born 2100 or later) and a 2/3 with a year still to come
    # describe nobody alive today.
    if birth_year > _today().year:
        raise InvalidField(
            "cccd", "Mã thế kỷ và năm sinh (số thứ 4 đến 6) của số CCCD không hợp lệ."
        )
    if birthdate is not None and birthdate.year != birth_year:
        raise InvalidField("cccd", "Số CCCD không khớp với năm sinh.")
    if gender is not None and gender != _SEX_BY_PARITY[century_digit % 2]:
        raise InvalidField("cccd", "Số CCCD không khớp với giới tính.")
    return cccd


def mask_cccd(cccd: str) -> str:
    """Hide a CCCD for display: ``001*******45``.

    The province code (shared by millions) and the last two digits stay visible
    so the owner recognises the number; the century, sex and birth-year digits
    are hidden with the rest.
    """
    if len(cccd) != 12 or not (cccd.isascii() and cccd.isdigit()):
        raise ValueError("mask_cccd expects a validated 12-digit number")
    return f"{cccd[:3]}{'*' * 7}{cccd[-2:]}"


# --- Mobile phone ----------------------------------------------------------

_PHONE_TEXT = re.compile(r"\(?\+?[0-9 .\-()]{1,30}")
_BAD_PHONE = "Số điện thoại di động không hợp lệ."


def normalize_phone(value: str) -> str:
    """Return a Vietnamese mobile number in E.164 form (``+84912345678``).

    Accepts ``0912345678``, ``+84912345678``, ``84912345678`` and ``0084…``,
    with spaces, dots, dashes or parentheses. Landlines, service numbers and
    foreign numbers are refused; which prefixes are mobile is left to the
    ``phonenumbers`` metadata, which follows the carriers' renumbering.
    """
    text = value.strip()
    if not text:
        raise InvalidField("phone", "Vui lòng nhập số điện thoại di động.")
    # phonenumbers skips letters and other noise; a number with them is a typo.
    if not _PHONE_TEXT.fullmatch(text):
        raise InvalidField("phone", _BAD_PHONE)
    try:
        number = phonenumbers.parse(text, "VN")
    except phonenumbers.NumberParseException:
        raise InvalidField("phone", _BAD_PHONE) from None
    if not (
        phonenumbers.is_valid_number_for_region(number, "VN")
        and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
    ):
        raise InvalidField("phone", _BAD_PHONE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """Hide a phone number for display: ``+84912345678`` → ``+84 91*****78``."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        raise ValueError("mask_phone expects an E.164 number") from None
    national = phonenumbers.national_significant_number(number)
    if len(national) < 6:
        raise ValueError("mask_phone expects an E.164 number")
    hidden = "*" * (len(national) - 4)
    return f"+{number.country_code} {national[:2]}{hidden}{national[-2:]}"


# --- Full name -------------------------------------------------------------

# Ê Đê, Gia Rai and other minority names are written with an apostrophe
# (H'Hen Niê, Y'Moan); phones and word processors type it as ’ or ʼ.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'"})


def _is_latin_letter(char: str) -> bool:
    # Every Vietnamese letter, đ included, is a precomposed Latin letter after NFC;
    # leftover combining marks (stacked diacritics) fail isalpha() on purpose.
    return char.isalpha() and unicodedata.name(char, "").startswith("LATIN ")


def normalize_name(value: str) -> str:
    """Return a full name in NFC with single spaces, as typed otherwise (case kept).

    Allowed: Latin letters including every Vietnamese letter, single spaces, and
    an apostrophe between two letters of a word (H'Hen). 2–100 characters.
    """
    name = " ".join(unicodedata.normalize("NFC", value).translate(_APOSTROPHES).split())
    if not name:
        raise InvalidField("full_name", "Vui lòng nhập họ và tên.")
    if not NAME_MIN_LENGTH <= len(name) <= NAME_MAX_LENGTH:
        raise InvalidField("full_name", "Họ và tên phải dài từ 2 đến 100 ký tự.")
    for word in name.split(" "):
        for part in word.split("'"):
            if not part or not all(_is_latin_letter(char) for char in part):
                raise InvalidField("full_name", "Họ và tên chỉ gồm chữ cái tiếng Việt và dấu cách.")
    return name


def _name_key(value: str) -> str:
    # Canonical caseless matching (Unicode §3.13): NFD(casefold(NFD(x))).
    folded = unicodedata.normalize("NFD", unicodedata.normalize("NFD", value).casefold())
    return " ".join(folded.translate(_APOSTROPHES).split())


def names_equal(a: str, b: str) -> bool:
    """Tell whether two names are the same apart from case, spacing and Unicode form.

    Diacritics still count: "Lê" and "Le" differ.
    """
    return _name_key(a) == _name_key(b)


# --- Birth date, gender, e-mail --------------------------------------------

_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_VN_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")


def _parse_date_text(text: str) -> date:
    if match := _ISO_DATE.fullmatch(text):
        year, month, day = map(int, match.groups())
    elif match := _VN_DATE.fullmatch(text):
        day, month, year = map(int, match.groups())
    else:
        raise ValueError("neither YYYY-MM-DD nor DD/MM/YYYY")
    return date(year, month, day)


def parse_birthdate(value: str | date) -> date:
    """Parse ``YYYY-MM-DD`` or ``DD/MM/YYYY`` (or take a date); 1900 to today."""
    if isinstance(value, datetime):
        birthdate = value.date()
    elif isinstance(value, date):
        birthdate = value
    else:
        text = value.strip()
        if not text:
            raise InvalidField("birthdate", "Vui lòng nhập ngày sinh.")
        try:
            birthdate = _parse_date_text(text)
        except ValueError:
            raise InvalidField(
                "birthdate",
                "Ngày sinh không hợp lệ; hãy nhập theo dạng ngày/tháng/năm, ví dụ 25/12/1990.",
            ) from None
    if birthdate > _today():
        raise InvalidField("birthdate", "Ngày sinh không được ở tương lai.")
    if birthdate.year < MIN_BIRTH_YEAR:
        raise InvalidField("birthdate", "Năm sinh phải từ 1900 trở về sau.")
    return birthdate


_GENDERS = {"male": "male", "nam": "male", "female": "female", "nữ": "female", "nu": "female"}


def parse_gender(value: str) -> str:
    """Map "male"/"nam" to "male" and "female"/"nữ"/"nu" to "female", any case."""
    key = unicodedata.normalize("NFC", value).strip().casefold()
    if not key:
        raise InvalidField("gender", "Vui lòng chọn giới tính.")
    try:
        return _GENDERS[key]
    except KeyError:
        raise InvalidField("gender", "Giới tính phải là Nam hoặc Nữ.") from None


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_DOMAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def normalize_email(value: str | None) -> str | None:
    """Return the address with its domain in lower case, or None when empty.

    A deliberately plain check (ASCII dot-atom local part, a dotted host name);
    only a confirmation mail proves an address works.
    """
    text = (value or "").strip()
    if not text:
        return None
    local, at, domain = text.rpartition("@")
    domain = domain.lower()
    labels = domain.split(".")
    if not (
        at
        and len(text) <= 254
        and len(local) <= 64
        and _EMAIL_LOCAL.fullmatch(local)
        and len(labels) >= 2
        and all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    ):
        raise InvalidField("email", "Địa chỉ email không hợp lệ.")
    return f"{local}@{domain}"


# --- The whole person ------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class PersonData:
    """A citizen's validated identity data."""

    cccd: str
    full_name: str
    birthdate: date
    gender: str
    phone: str
    email: str | None

    def __repr__(self) -> str:
        # Objects end up in logs and tracebacks; no identifier appears there in full.
        try:
            cccd, phone = mask_cccd(self.cccd), mask_phone(self.phone)
        except ValueError:  # built by hand with bad data, bypassing validate_person
            cccd = phone = "?"
        return f"PersonData(cccd={cccd!r}, phone={phone!r}, gender={self.gender!r})"


def _collect(errors: dict[str, str], parse: Callable[[str], _T], value: str) -> _T | None:
    try:
        return parse(value)
    except InvalidField as exc:
        errors[exc.field] = exc.message
        return None


def validate_person(
    raw: Mapping[str, str], optional: Collection[str] = ("email",)
) -> PersonData:
    """Validate a submitted form; raise :class:`InvalidPerson` listing every bad field.

    Keys: cccd, full_name, birthdate, gender, phone, email. Those in `optional`
    (by default only email) may be left empty and are then "" (None for email).
    The CCCD is checked against the birth date and gender only when those are
    valid themselves, so one mistake yields one message.
    """
    errors: dict[str, str] = {}

    def field(name: str, parse: Callable[[str], _T]) -> _T | None:
        value = raw.get(name) or ""
        if name in optional and not value.strip():
            return None
        return _collect(errors, parse, value)

    full_name = field("full_name", normalize_name)
    birthdate = field("birthdate", parse_birthdate)
    gender = field("gender", parse_gender)
    cccd = field("cccd", lambda value: validate_cccd(value, birthdate, gender))
    phone = field("phone", normalize_phone)
    email = _collect(errors, normalize_email, raw.get("email") or "")
    if errors:
        raise InvalidPerson(errors)
    # Each of these is None only when its error was recorded above.
    assert cccd and full_name and birthdate
    return PersonData(
        cccd=cccd,
        full_name=full_name,
        birthdate=birthdate,
        gender=gender or "",
        phone=phone or "",
        email=email,
    )
