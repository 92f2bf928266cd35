"""Password hashing with Argon2id and the portal's password policy.

Passwords are NFKC-normalised before hashing and checking (NIST SP 800-63B
§5.1.1.2): Vietnamese typed with Unikey's "Unicode tổ hợp" arrives decomposed,
with "Unicode dựng sẵn" precomposed, and both must open the same account.
Changing that normalisation would lock out users whose password it alters.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import unicodedata
from collections.abc import Sequence
from datetime import date

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

MIN_LENGTH = 8
MAX_LENGTH = 128

_PERSONAL_DATA = (
    "Mật khẩu quá dễ đoán vì chứa tên, ngày sinh, số giấy tờ hoặc số điện thoại của bạn."
)
# zxcvbn adds a large penalty per extra piece, so it lets "Tuyết!1995@0987654321"
# pass with the user's own phone number in it. Personal words this long (a CCCD,
# a phone number, a full date, a whole name) are refused outright; shorter ones
# (a given name, a year) are common enough to leave to zxcvbn's weighing.
_PERSONAL_WORD_MIN_LENGTH = 8

# zxcvbn stores the user inputs in a module-level dictionary for the length of
# a call, so two threads checking at once would score against each other's data.
_ZXCVBN_LOCK = threading.Lock()


def _normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


class PasswordHasher:
    """Argon2id hashing with explicit cost parameters.

    The defaults are the OWASP profile (19 MiB, 2 passes, 1 lane). They are
    always passed to argon2-cffi, never taken from its own defaults, which
    change between releases and cost several times more.
    """

    def __init__(self, memory_kib: int = 19456, time_cost: int = 2, parallelism: int = 1) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )
        # Verified against when the account does not exist, so that a wrong
        # user name costs as long as a wrong password.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(32))

    def hash(self, password: str) -> str:
        """Return the PHC-format Argon2id hash of ``password`` with a fresh salt."""
        return self._hasher.hash(_normalize(password))

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Tell whether ``password`` matches the stored hash; never raises for a bad hash.

        A missing or malformed hash gives False only after a dummy verify, so an
        account without a usable password answers as slowly as any other.
        """
        try:
            return self._hasher.verify(password_hash or "", _normalize(password))
        except VerifyMismatchError:
            return False
        # Non-ASCII text in a hash fails while argon2-cffi encodes it.
        except (VerificationError, InvalidHashError, UnicodeEncodeError):
            self.dummy_verify(password)
            return False

    def needs_rehash(self, password_hash: str | None) -> bool:
        """Tell whether the hash was made with other parameters (or is malformed).

        Call after a successful :meth:`verify` and store :meth:`hash` of the
        password when True.
        """
        try:
            return self._hasher.check_needs_rehash(password_hash or "")
        except InvalidHashError:
            return True

    def dummy_verify(self, password: str) -> None:
        """Spend the time of one :meth:`verify` without an account to check against."""
        with contextlib.suppress(VerifyMismatchError):
            self._hasher.verify(self._dummy_hash, _normalize(password))


def check_password_policy(
    password: str, user_inputs: Sequence[str] = (), min_score: int = 3
) -> list[str]:
    """Return the problems with a new password in Vietnamese; empty means acceptable.

    First the portal's composition rule (8–128 characters with a lower-case
    letter, an upper-case letter, a digit and a special character), then, only
    if that passes, a zxcvbn score of at least ``min_score`` with the user's own
    data as ``user_inputs`` (see :func:`password_user_inputs`). A user input of
    8 or more characters found verbatim in the password fails whatever the score.
    """
    password = _normalize(password)
    if not password:
        return ["Vui lòng nhập mật khẩu."]
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Mật khẩu phải có ít nhất {MIN_LENGTH} ký tự.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Mật khẩu dài tối đa {MAX_LENGTH} ký tự.")
    if not any(char.islower() for char in password):
        problems.append("Mật khẩu phải có ít nhất một chữ thường.")
    if not any(char.isupper() for char in password):
        problems.append("Mật khẩu phải có ít nhất một chữ hoa.")
    if not any(char.isdecimal() for char in password):
        problems.append("Mật khẩu phải có ít nhất một chữ số.")
    if all(char.isalnum() for char in password):
        problems.append(
            "Mật khẩu phải có ít nhất một ký tự đặc biệt, ví dụ ! @ # $ % hoặc dấu cách."
        )
    # zxcvbn takes up to a few hundred milliseconds on long input; a password
    # already refused gains nothing from it.
    if problems:
        return problems

    # Compare without case, diacritics or separators: "Nguyen-Van-An-1985" is the name.
    squeezed = _squeeze(password)
    if any(
        len(word) >= _PERSONAL_WORD_MIN_LENGTH and word in squeezed
        for word in map(_squeeze, user_inputs)
    ):
        return [_PERSONAL_DATA]
    # max_length came with zxcvbn 4.5.0, whose default of 72 would raise on 73–128.
    with _ZXCVBN_LOCK:
        result = zxcvbn(password, user_inputs=list(user_inputs), max_length=MAX_LENGTH)
    if result["score"] >= min_score:
        return []
    if any(match.get("dictionary_name") == "user_inputs" for match in result["sequence"]):
        return [_PERSONAL_DATA]
    return ["Mật khẩu quá dễ đoán; hãy dùng một cụm từ dài hơn, khó đoán hơn."]


def _squeeze(text: str) -> str:
    """Lower-case letters and digits only, without diacritics."""
    plain = _without_diacritics(_normalize(text).casefold())
    return "".join(char for char in plain if char.isalnum())


def _without_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def password_user_inputs(
    full_name: str | None = None,
    cccd: str | None = None,
    birthdate: date | None = None,
    phone: str | None = None,
) -> list[str]:
    """Build zxcvbn's ``user_inputs`` from what an attacker may know about the user.

    Name words and the whole name run together, each with and without
    diacritics; the CCCD and its last 6 digits (a common PIN); the birth date
    as 01011990, 010190, 19900101, 01/01/1990 and 1990; the phone number as
    84912345678, 0912345678 and 912345678. ``phone`` may be E.164 or local.
    """
    words: list[str] = []
    if full_name:
        name = unicodedata.normalize("NFC", full_name).casefold()
        parts = [*name.split(), "".join(name.split())]
        words += parts + [_without_diacritics(part) for part in parts]
    if cccd:
        words += [cccd, cccd[-6:]]
    if birthdate:
        formats = ("%d%m%Y", "%d%m%y", "%Y%m%d", "%d/%m/%Y", "%Y")
        words += [birthdate.strftime(fmt) for fmt in formats]
    if phone:
        digits = "".join(char for char in phone if char.isdigit())
        national = digits[2:] if digits.startswith("84") else digits.removeprefix("0")
        words += [f"84{national}", f"0{national}", national]
    # zxcvbn ranks by position; dict.fromkeys drops repeats and keeps the order.
    return list(dict.fromkeys(word for word in words if word))
