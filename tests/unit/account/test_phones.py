"""idp/account/phones.py and idp/account/recovery.py: an account's OTP phones (added,
removed, made the default; never none left) and the self-service recovery of a lost one,
checked with the carrier (here a stand-in that answers as told)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from idp.account.phones import (
    add_phone,
    carrier_check_allowed,
    remove_phone,
    set_default_phone,
)
from idp.account.recovery import PhoneCheck, check_new_phone, recover_phone
from idp.sessions import account_sessions, create_session
from idp.store.models import Account
from tests.unit.service_app import sms_to

NEW_PHONE = "+84987654321"


class Carrier:
    """The carrier's answer to "is this subscription the person's own?"."""

    def __init__(self, own: bool) -> None:
        self.own = own
        self.asked: list[str] = []

    def check_subscriber(self, phone, person):
        self.asked.append(phone)
        return SimpleNamespace(registered_to_person=self.own)


@pytest.fixture
def citizen(provider, make_account):
    account_id, person = make_account(extra_phones=["+84911111111"])
    account = provider.db.session.get(Account, account_id)
    return SimpleNamespace(account=account, phone=person.phone,
                           phone_ids={p.phone: p.id for p in account.phones})


def numbers(account: Account) -> list[tuple[str, bool]]:
    return [(phone.phone, phone.is_default) for phone in account.phones]


def test_a_proven_phone_is_added_once_and_the_default_phone_is_told(provider, citizen):
    add_phone(citizen.account, NEW_PHONE)
    add_phone(citizen.account, NEW_PHONE)
    assert numbers(citizen.account) == [(citizen.phone, True), ("+84911111111", False),
                                        (NEW_PHONE, False)]
    [notice] = sms_to(provider, citizen.phone)
    assert "vừa được thêm" in notice


def test_the_only_phone_that_receives_codes_is_never_removed(citizen):
    remove_phone(citizen.account, citizen.phone_ids["+84911111111"])
    refusal = remove_phone(citizen.account, citizen.phone_ids[citizen.phone])
    assert "duy nhất" in refusal
    assert numbers(citizen.account) == [(citizen.phone, True)]


def test_removing_the_default_phone_makes_the_other_one_the_default(provider, citizen):
    assert remove_phone(citizen.account, citizen.phone_ids[citizen.phone]) is None
    assert numbers(citizen.account) == [("+84911111111", True)]
    assert "đã bị gỡ" in sms_to(provider, "+84911111111")[-1]


def test_a_phone_of_another_account_is_neither_removed_nor_made_the_default(
        provider, citizen, make_account):
    other_id, _ = make_account(n=1)
    [others] = provider.db.session.get(Account, other_id).phones
    assert "Không tìm thấy" in remove_phone(citizen.account, others.id)
    assert "Không tìm thấy" in set_default_phone(citizen.account, others.id)
    assert len(provider.db.session.get(Account, other_id).phones) == 1


def test_an_account_may_cause_ten_carrier_checks_a_day(citizen):
    assert all(carrier_check_allowed(citizen.account.id) for _ in range(10))
    assert not carrier_check_allowed(citizen.account.id)


def test_recovering_to_the_current_phone_asks_no_carrier_and_spends_nothing(
        provider, citizen, monkeypatch):
    carrier = Carrier(own=True)
    monkeypatch.setitem(provider.connectors, "carrier", carrier)
    assert check_new_phone(citizen.account, citizen.phone, "tx-1") is PhoneCheck.CURRENT_PHONE
    assert carrier.asked == []
    assert provider.limits.count("lost_phone.checks", "tx-1") == 0


def test_a_phone_the_carrier_does_not_confirm_is_refused(provider, citizen, monkeypatch):
    monkeypatch.setitem(provider.connectors, "carrier", Carrier(own=False))
    assert check_new_phone(citizen.account, NEW_PHONE, "tx-1") is PhoneCheck.REFUSED
    monkeypatch.setitem(provider.connectors, "carrier", Carrier(own=True))
    assert check_new_phone(citizen.account, NEW_PHONE, "tx-1") is PhoneCheck.CONFIRMED


def test_one_login_may_check_three_new_phones_with_the_carrier(provider, citizen,
                                                               monkeypatch):
    carrier = Carrier(own=False)
    monkeypatch.setitem(provider.connectors, "carrier", carrier)
    for n in range(3):
        check_new_phone(citizen.account, f"+8498765432{n}", "tx-1")
    assert check_new_phone(citizen.account, NEW_PHONE, "tx-1") is PhoneCheck.LIMITED
    assert len(carrier.asked) == 3
    assert check_new_phone(citizen.account, NEW_PHONE, "tx-2") is PhoneCheck.REFUSED


def test_a_recovered_phone_replaces_the_lost_one_and_ends_every_session(provider, citizen):
    for _ in range(2):
        create_session(citizen.account.id, int(time.time()), "urn:vn:sso:loa:2", ["pwd"])
    assert recover_phone(citizen.account, NEW_PHONE) == 2
    assert numbers(citizen.account) == [("+84911111111", False), (NEW_PHONE, True)]
    assert account_sessions(citizen.account.id) == []
    assert "không còn nhận OTP" in sms_to(provider, citizen.phone)[-1]
