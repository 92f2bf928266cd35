"""Tests for idp.security.passwords: Argon2id hashing and the password policy."""

from __future__ import annotations

import statistics
import time
import unicodedata
from datetime import date

import pytest

from idp.security.passwords import (
    PasswordHasher,
    check_password_policy,
    password_user_inputs,
)

# Small parameters keep the tests fast where timing does not matter.
FAST = {"memory_kib": 8192, "time_cost": 1, "parallelism": 1}

PERSONAL = "Mật khẩu quá dễ đoán vì chứa tên, ngày sinh, số giấy tờ hoặc số điện thoại của bạn."
GUESSABLE = "Mật khẩu quá dễ đoán; hãy dùng một cụm từ dài hơn, khó đoán hơn."


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(**FAST)


@pytest.fixture(scope="module")
def user_inputs() -> list[str]:
    return password_user_inputs(
        "Lê Thị Hồng Nhung", "079195001234", date(1995, 7, 15), "0987654321"
    )


# --- Hashing ----------------------------------------------------------------


def test_hash_is_argon2id_with_the_given_parameters(hasher):
    encoded = hasher.hash("Mùa-Thu-Hà-Nội-7!")
    assert encoded.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert hasher.hash("Mùa-Thu-Hà-Nội-7!") != encoded  # fresh salt each time


def test_default_parameters_are_the_owasp_profile_not_the_library_defaults():
    assert PasswordHasher().hash("x").startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_verify_right_and_wrong_password(hasher):
    encoded = hasher.hash("Mùa-Thu-Hà-Nội-7!")
    assert hasher.verify(encoded, "Mùa-Thu-Hà-Nội-7!") is True
    assert hasher.verify(encoded, "mùa-Thu-Hà-Nội-7!") is False
    assert hasher.verify(encoded, "") is False


def test_verify_accepts_the_other_unicode_form_of_the_same_password(hasher):
    # Unikey's "Unicode tổ hợp" sends decomposed text, "dựng sẵn" composed text.
    encoded = hasher.hash(unicodedata.normalize("NFC", "Mật khẩu Việt 9!"))
    assert hasher.verify(encoded, unicodedata.normalize("NFD", "Mật khẩu Việt 9!"))


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "garbage",
        "$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$",
        "$argon2id$v=19$m=8192,t=1,p=1$!!!!$!!!!",
        "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$2b$12$KIXQJhBTlsOqUnW0x5Q2eO3Vq0v8uW2f9aE8vdY1w5mJ2kqKf3nSe",  # bcrypt
        "$argon2id$v=19$m=8192,t=1,p=1$ñ$ñ",
    ],
)
def test_verify_of_malformed_hash_is_false_not_an_exception(hasher, garbage):
    assert hasher.verify(garbage, "Mùa-Thu-Hà-Nội-7!") is False


def test_verify_of_missing_hash_is_false(hasher):
    # An account that has no password yet (e.g. created by an administrator).
    assert hasher.verify(None, "Mùa-Thu-Hà-Nội-7!") is False
    assert hasher.needs_rehash(None) is True


def test_needs_rehash_when_parameters_change(hasher):
    encoded = hasher.hash("Mùa-Thu-Hà-Nội-7!")
    assert hasher.needs_rehash(encoded) is False
    assert PasswordHasher(memory_kib=8192, time_cost=2).needs_rehash(encoded) is True
    assert PasswordHasher(memory_kib=16384, time_cost=1).needs_rehash(encoded) is True
    assert PasswordHasher(memory_kib=8192, time_cost=1, parallelism=2).needs_rehash(encoded)


def test_needs_rehash_of_malformed_hash_is_true(hasher):
    assert hasher.needs_rehash("garbage") is True
    assert hasher.needs_rehash("$argon2id$v=19$m=8192,t=1,p=1$ñ$ñ") is True


def test_dummy_verify_costs_as_much_as_a_real_verify():
    # Real parameters: the point is that an unknown user name is as slow as a
    # wrong password, so this one measures time.
    hasher = PasswordHasher()
    encoded = hasher.hash("Mùa-Thu-Hà-Nội-7!")

    def median_seconds(call) -> float:
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    real = median_seconds(lambda: hasher.verify(encoded, "wrong"))
    dummy = median_seconds(lambda: hasher.dummy_verify("wrong"))
    malformed = median_seconds(lambda: hasher.verify("garbage", "wrong"))
    assert 0.5 < dummy / real < 2
    assert 0.5 < malformed / real < 2
    assert hasher.dummy_verify("wrong") is None


# --- Composition rule -------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Ab1!xyz", "Mật khẩu phải có ít nhất 8 ký tự."),
        ("AB1!XYZW", "Mật khẩu phải có ít nhất một chữ thường."),
        ("ab1!xyzw", "Mật khẩu phải có ít nhất một chữ hoa."),
        ("Abc!xyzw", "Mật khẩu phải có ít nhất một chữ số."),
        ("Abc1xyzw", "Mật khẩu phải có ít nhất một ký tự đặc biệt, ví dụ ! @ # $ % hoặc dấu cách."),
        ("Aa1!" * 32 + "x", "Mật khẩu dài tối đa 128 ký tự."),
    ],
)
def test_each_composition_rule_reported(password, problem):
    assert check_password_policy(password) == [problem]


def test_empty_password():
    assert check_password_policy("") == ["Vui lòng nhập mật khẩu."]


def test_all_composition_problems_listed_together():
    assert len(check_password_policy("abc")) == 4  # length, upper case, digit, special


def test_vietnamese_letters_count_as_lower_and_upper_case():
    assert check_password_policy("ĐƯỜNG-phố-7") == []
    assert "Mật khẩu phải có ít nhất một chữ hoa." in check_password_policy("đường-phố-7")


def test_very_long_password_refused_quickly():
    start = time.perf_counter()
    assert check_password_policy("Aa1!" * 10_000) == ["Mật khẩu dài tối đa 128 ký tự."]
    assert time.perf_counter() - start < 0.5


def test_password_of_exactly_128_characters_is_scored():
    assert check_password_policy("Xq7#mP2@vL9$" * 10 + "Zr4&kW8!") == []


# --- Guessability (zxcvbn) --------------------------------------------------


def test_common_password_refused_even_when_it_follows_the_rule():
    assert check_password_policy("Password1!") == [GUESSABLE]
    assert check_password_policy("Abcdefg1!") == [GUESSABLE]


@pytest.mark.parametrize(
    "password",
    [
        "Xylo@15071995",  # birth date
        "Phở@15/07/1995",  # birth date with slashes
        "Hoa@079195001234",  # CCCD
        "Tuyết!1995@0987654321",  # phone number
        "LeThiHongNhung!9",  # whole name without diacritics
    ],
)
def test_password_built_from_the_users_own_data_refused(password, user_inputs):
    # Each passes for someone else; the user's own data makes it guessable.
    assert check_password_policy(password) == []
    assert check_password_policy(password, user_inputs) == [PERSONAL]


def test_strong_password_accepted_with_user_inputs(user_inputs):
    assert check_password_policy("Mùa-Thu-Hà-Nội-7!", user_inputs) == []


def test_min_score_is_adjustable():
    assert check_password_policy("Monkey!2024", min_score=2) == []
    assert check_password_policy("Monkey!2024", min_score=3) == [GUESSABLE]


# --- User inputs ------------------------------------------------------------


def test_password_user_inputs_covers_name_id_birthdate_and_phone():
    words = password_user_inputs("Nguyễn Văn Đức", "001090012345", date(1990, 1, 2), "+84912345678")
    for word in [
        "nguyễn",
        "đức",
        "nguyễnvănđức",
        "nguyen",
        "duc",
        "nguyenvanduc",
        "001090012345",
        "012345",
        "02011990",
        "020190",
        "19900102",
        "02/01/1990",
        "1990",
        "84912345678",
        "0912345678",
        "912345678",
    ]:
        assert word in words
    assert len(words) == len(set(words))
    assert all(isinstance(word, str) and word for word in words)


def test_password_user_inputs_same_phone_from_local_form():
    assert password_user_inputs(phone="0912345678") == password_user_inputs(phone="+84912345678")


def test_password_user_inputs_with_nothing_known():
    assert password_user_inputs() == []
