"""idp/otp/codes.py: sending a one-time code within its limits, and checking a typed one
(single use, tries per challenge, expiry), called directly."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from connectors.base import ConnectorUnavailable
from idp.otp.codes import (
    LOGIN,
    REGISTER,
    RESET,
    Challenge,
    CheckOutcome,
    SendOutcome,
    check_code,
    forget_code,
    pending_code,
    send_code,
)
from idp.store.models import AuditEvent, StateEntry
from tests.conftest import last_otp
from tests.unit.service_app import ADDRESS, sms_to, spend

PHONE = "+84912345678"
PHONES = ["+84987654321", "+84933000001", "+84933000002", "+84933000003"]
CCCD = "001085000123"


def login(challenge_id: str = "tx-1", **kwargs) -> Challenge:
    return Challenge(challenge_id, LOGIN, ip=ADDRESS, **kwargs)


def sent_code(provider, challenge: Challenge, phone: str = PHONE) -> str:
    assert send_code(challenge, phone).sent
    return last_otp(provider.settings, phone)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# --- sending ---------------------------------------------------------------------------


def test_a_sent_code_is_six_digits_naming_its_purpose_and_validity(provider):
    result = send_code(login(), PHONE)
    assert result.outcome is SendOutcome.SENT
    [text] = sms_to(provider, PHONE)
    assert re.search(r"\b\d{6}\b", text)
    assert "đăng nhập" in text and "hiệu lực 2 phút" in text  # otp.ttl = 120
    assert result.expires_at == pytest.approx(time.time() + provider.settings.otp.ttl, abs=5)


def test_the_code_itself_is_never_stored(provider):
    code = sent_code(provider, login())
    values = provider.db.session.scalars(select(StateEntry.value)).all()
    assert values and not any(code in (value or "") for value in values)


def test_the_pending_code_says_where_it_went_and_when_a_resend_is_allowed(provider):
    result = send_code(login(), PHONE)
    pending = pending_code("tx-1")
    assert pending.phone == PHONE
    assert pending.expires_at == result.expires_at
    assert 0 < pending.resend_at - time.time() <= 30  # sms.resend_wait: 1 per 30 seconds


def test_a_resend_within_the_wait_is_refused_with_the_seconds_left(provider):
    send_code(login(), PHONE)
    again = send_code(login(), PHONE)
    assert again.outcome is SendOutcome.COOLDOWN
    assert 1 <= again.wait_seconds <= 30
    assert f"chờ {again.wait_seconds} giây" in again.message
    assert len(sms_to(provider, PHONE)) == 1


def test_the_resend_wait_holds_one_phone_only(provider):
    send_code(login(), PHONE)
    assert send_code(login(), PHONES[0]).sent


def test_a_refused_resend_leaves_the_previous_code_valid(provider):
    code = sent_code(provider, login())
    assert not send_code(login(), PHONE).sent
    assert check_code("tx-1", code).outcome is CheckOutcome.OK


def test_no_more_than_four_codes_are_sent_in_one_login(provider):
    for phone in PHONES:
        assert send_code(login(), phone).sent
    refused = send_code(login(), PHONE)
    assert refused.outcome is SendOutcome.LOGIN_LIMIT
    assert sms_to(provider, PHONE) == []


def test_a_phone_gets_at_most_six_login_codes_an_hour_across_logins(provider):
    for n in range(6):
        assert send_code(login(f"tx-{n}"), PHONE).sent
    refused = send_code(login("tx-7"), PHONE)
    assert refused.outcome is SendOutcome.PHONE_LIMIT
    assert time.time() < refused.until <= time.time() + 3600
    refusal = provider.db.session.scalars(
        select(AuditEvent).where(AuditEvent.event == "otp.send",
                                 AuditEvent.result == "refused")).one()
    assert refusal.detail["reason"] == "sms.login.phone"


def test_a_send_the_phone_limit_refuses_spends_nothing_of_the_limits_after_it(provider):
    limits = provider.limits
    spend(limits, "sms.login.phone", PHONE)
    daily, address = (limits.count("sms.login.phone_daily", PHONE),
                      limits.count("sms.login.address", ADDRESS))
    assert send_code(login("tx-9"), PHONE).outcome is SendOutcome.PHONE_LIMIT
    # Counted in the order of the purpose's limits: the refusing one keeps its hit, the
    # ones this send never reached give theirs back.
    assert limits.count("sms.login.phone", PHONE) == limits.amount("sms.login.phone") + 1
    assert limits.count("sms.login.phone_daily", PHONE) == daily
    assert limits.count("sms.login.address", ADDRESS) == address


def test_an_address_out_of_login_codes_still_serves_a_browser_used_before(provider):
    spend(provider.limits, "sms.login.address", ADDRESS)
    assert send_code(login("tx-stranger"), PHONE).outcome is SendOutcome.ADDRESS_LIMIT
    assert send_code(login("tx-owner", device="nonce-1"), PHONE).sent


def test_registration_codes_never_spend_the_login_codes_of_a_phone(provider):
    for n in range(3):  # sms.register.phone: 3 per hour
        assert send_code(Challenge(f"reg-{n}", REGISTER, cccd=f"00108500012{n}", ip=ADDRESS),
                         PHONE).sent
    refused = send_code(Challenge("reg-9", REGISTER, cccd="001085000129", ip=ADDRESS), PHONE)
    assert refused.outcome is SendOutcome.PHONE_LIMIT
    assert send_code(login(), PHONE).sent
    assert provider.limits.count("sms.login.phone", PHONE) == 1


def test_strangers_share_one_count_of_reset_codes_and_the_owners_browser_has_its_own(
        provider):
    for n in range(3):  # sms.reset.cccd: 3 per hour per requester
        assert send_code(Challenge(f"reset-{n}", RESET, cccd=CCCD), PHONE).sent
    stranger = send_code(Challenge("reset-9", RESET, cccd=CCCD), PHONE)
    assert stranger.outcome is SendOutcome.CCCD_LIMIT
    assert send_code(Challenge("reset-owner", RESET, cccd=CCCD, device="nonce-1"), PHONE).sent


class DownGateway:
    def send(self, phone: str, text: str) -> None:
        raise ConnectorUnavailable("gateway down", system="sms")


def test_a_code_the_gateway_did_not_take_is_not_pending_and_may_be_sent_again_at_once(
        provider, monkeypatch):
    gateway = provider.connectors["sms"]
    monkeypatch.setitem(provider.connectors, "sms", DownGateway())
    failed = send_code(login(), PHONE)
    assert failed.outcome is SendOutcome.FAILED
    assert "không gửi được" in failed.message
    assert pending_code("tx-1") is None
    monkeypatch.setitem(provider.connectors, "sms", gateway)
    assert send_code(login(), PHONE).sent


def test_an_outage_of_the_gateway_spends_none_of_the_phones_codes(provider, monkeypatch):
    """Sends the gateway refused are given back to the phone's counts: after an outage the
    owner still has every code of the hour (sms.login.phone: 6 per hour)."""
    gateway = provider.connectors["sms"]
    monkeypatch.setitem(provider.connectors, "sms", DownGateway())
    budget = provider.limits.amount("sms.login.phone")
    outcomes = {send_code(login(f"tx-down-{n}"), PHONE).outcome for n in range(budget + 2)}
    assert outcomes == {SendOutcome.FAILED}
    # The address's own count keeps the failed tries: a retry storm is still bounded.
    assert provider.limits.count("sms.login.address", ADDRESS) == budget + 2
    monkeypatch.setitem(provider.connectors, "sms", gateway)
    assert all(send_code(login(f"tx-up-{n}"), PHONE).sent for n in range(budget))
    assert send_code(login("tx-one-too-many"), PHONE).outcome is not SendOutcome.SENT


# --- checking --------------------------------------------------------------------------


def test_the_right_code_passes_once_only(provider):
    code = sent_code(provider, login())
    assert check_code("tx-1", code).outcome is CheckOutcome.OK
    assert check_code("tx-1", code).outcome is not CheckOutcome.OK


def test_the_fifth_wrong_code_uses_the_last_try_and_only_that_one_says_so(provider):
    code = sent_code(provider, login())
    assert [check_code("tx-1", wrong(code)).tries_left for _ in range(4)] == [4, 3, 2, 1]
    fifth = check_code("tx-1", wrong(code))
    assert (fifth.outcome, fifth.last_try) == (CheckOutcome.EXHAUSTED, True)
    sixth = check_code("tx-1", wrong(code))
    assert (sixth.outcome, sixth.last_try) == (CheckOutcome.EXHAUSTED, False)


def test_once_the_tries_are_spent_even_the_right_code_is_refused(provider):
    code = sent_code(provider, login())
    for _ in range(5):
        check_code("tx-1", wrong(code))
    assert check_code("tx-1", code).outcome is CheckOutcome.EXHAUSTED


def test_a_resend_never_gives_more_tries(provider):
    code = sent_code(provider, login())
    for _ in range(4):
        check_code("tx-1", wrong(code))
    new_code = sent_code(provider, login(), PHONES[0])
    assert check_code("tx-1", wrong(new_code)).outcome is CheckOutcome.EXHAUSTED


def test_the_previous_code_stops_working_once_a_new_one_is_sent(provider):
    old = sent_code(provider, login())
    new = sent_code(provider, login(), PHONES[0])
    if old == new:
        pytest.skip("the two random codes happen to be equal")
    assert check_code("tx-1", old).outcome is CheckOutcome.WRONG


def test_a_code_past_its_validity_is_refused_as_expired(provider):
    code = sent_code(provider, login())
    record = provider.state.get("otp:tx-1")
    record["expires_at"] = time.time() - 1  # as if otp.ttl had passed
    provider.state.put("otp:tx-1", record, 600)
    result = check_code("tx-1", code)
    assert (result.outcome, result.tries_left) == (CheckOutcome.EXPIRED, 4)


def test_a_code_proves_only_its_own_challenge(provider):
    code = sent_code(provider, login("tx-1"))
    sent_code(provider, login("tx-2"), PHONES[0])
    assert check_code("tx-2", code).outcome is not CheckOutcome.OK


def test_a_typed_code_counts_only_as_six_ascii_digits_with_spaces_around_ignored(provider):
    code = sent_code(provider, login())
    full_width = "".join(chr(ord(digit) + 0xFEE0) for digit in code)
    assert check_code("tx-1", full_width).outcome is CheckOutcome.WRONG
    assert check_code("tx-1", f"  {code} ").outcome is CheckOutcome.OK


def test_forgetting_a_code_drops_it_and_gives_back_its_tries_and_sends(provider):
    code = sent_code(provider, login())
    for _ in range(3):
        check_code("tx-1", wrong(code))
    forget_code("tx-1")
    assert pending_code("tx-1") is None
    new_code = sent_code(provider, login())  # at once: no resend wait either
    result = check_code("tx-1", wrong(new_code))
    assert (result.outcome, result.tries_left) == (CheckOutcome.WRONG, 4)
