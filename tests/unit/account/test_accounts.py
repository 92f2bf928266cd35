"""idp/accounts.py: checking a new account's data and password, creating the account with
its evidence, changing the password (every refresh token revoked), and replacing the default
OTP phone. (tests/unit/test_accounts_and_clients.py covers normalisation, duplicates and
the field errors.)"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.accounts import (
    change_password,
    create_account,
    replace_default_phone,
    validate_new_account,
)
from idp.store.models import Account, IdentityEvidence, OtpPhone
from tests.conftest import STRONG_PASSWORD, make_person
from tests.unit.account.rows import live_families, refresh_token
from vnid.person import InvalidPerson

RAW = {"cccd": "001085000123", "full_name": "Nguyễn Văn An", "birthdate": "15/03/1985",
       "gender": "nam", "phone": "0912345678", "email": ""}


def create(provider, n: int = 0, **kwargs) -> Account:
    person = make_person(n)
    data = validate_new_account({k: getattr(person, k) for k in RAW}, STRONG_PASSWORD, 0)
    kwargs.setdefault("verified_by", "operator")
    return create_account(provider.db.session, data, STRONG_PASSWORD, provider.passwords,
                          **kwargs)


def test_a_password_made_of_the_persons_own_data_is_refused_whatever_its_strength():
    someone_else = {**RAW, "cccd": "001185000321", "full_name": "Trần Thị Bình",
                    "birthdate": "02/07/1985", "gender": "nữ", "phone": "0987654321"}
    for password in ("Nguyen-Van-An#2024", "Mat#khau-001085000123", "Xyz#15031985",
                     "Goi!0912345678"):
        with pytest.raises(InvalidPerson) as refused:
            validate_new_account(RAW, password, 0)
        assert set(refused.value.errors) == {"password"}, password
        assert validate_new_account(someone_else, password, 0).cccd == "001185000321"


def test_a_check_of_the_person_is_kept_as_evidence_and_an_operators_is_not(provider):
    checked = create(provider, 1, verified_by="counter",
                     evidence={"organization": "UBND phường Láng", "staff": "canbo01"})
    by_operator = create(provider, 2)
    rows = provider.db.session.scalars(select(IdentityEvidence)).all()
    assert [(row.account_id, row.method, row.staff) for row in rows] == [
        (checked.id, "counter", "canbo01")]
    assert by_operator.evidence == []


def test_every_account_gets_a_random_subject_of_its_own(provider):
    one, two = create(provider, 4), create(provider, 5)
    assert one.subject != two.subject
    assert len(one.subject) == 43 and one.cccd not in one.subject


def test_a_new_password_revokes_every_live_refresh_token_of_that_account_only(
        provider, make_portal):
    make_portal("portal-a")
    account, other = create(provider, 7), create(provider, 8)
    refresh_token(provider, account, "fam-a")
    refresh_token(provider, account, "fam-old", revoked=True)
    refresh_token(provider, other, "fam-other")
    revoked = change_password(provider.db.session, account, "Mat-Khau#Moi-2025",
                              provider.passwords)
    assert revoked == ["fam-a"]
    assert live_families(provider) == ["fam-other"]


def test_after_a_password_change_only_the_new_password_verifies(provider):
    account = create(provider, 9)
    before = account.password_changed_at
    change_password(provider.db.session, account, "Mat-Khau#Moi-2025", provider.passwords)
    assert provider.passwords.verify(account.password_hash, "Mat-Khau#Moi-2025")
    assert not provider.passwords.verify(account.password_hash, STRONG_PASSWORD)
    assert account.password_changed_at > before


def with_phones(*phones: str) -> Account:
    return Account(phones=[OtpPhone(phone=phone, is_default=n == 0)
                           for n, phone in enumerate(phones)])


def test_a_lost_default_phone_is_replaced_and_dropped():
    account = with_phones("+84911111111", "+84922222222")
    assert replace_default_phone(account, "+84933333333") == "+84911111111"
    assert [(p.phone, p.is_default) for p in account.phones] == [
        ("+84922222222", False), ("+84933333333", True)]


def test_a_lost_default_replaced_by_another_phone_of_the_account_keeps_one_row_of_it():
    account = with_phones("+84911111111", "+84922222222")
    assert replace_default_phone(account, "+84922222222") == "+84911111111"
    assert [(p.phone, p.is_default) for p in account.phones] == [("+84922222222", True)]
