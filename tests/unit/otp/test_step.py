"""idp/otp/step.py: the code step every flow shares (CodeStep), called directly: what the
page says after a send or a refused one, where a typed code leads, and how a step that must
not reveal the phone (forgot password) answers alike whatever happened."""

from __future__ import annotations

from flask import Response

from idp.login.views import LOGIN_CODE
from idp.otp.codes import LOGIN, RESET, Challenge, CheckOutcome
from idp.register.forgot import FORGOT_CODE
from tests.conftest import last_otp
from tests.unit.service_app import ADDRESS, sms_to
from vnid.person import mask_phone

PHONE = "+84912345678"
OTHER_PHONE = "+84987654321"
HIDDEN = {"tx": "tx-1"}


def login() -> Challenge:
    return Challenge("tx-1", LOGIN, ip=ADDRESS)


def reset() -> Challenge:
    return Challenge("tx-1", RESET, cccd="001085000123")


def page_text(step) -> str:
    html, _status = step.page("tx-1", HIDDEN)
    return html


def answer(code: str, *ways: str):
    """Type `code` at the login step that offers these ways on (passed, exhausted, spent):
    the name of the one taken, or the page shown again (html, status)."""
    answers = {name: (lambda name=name: Response(name)) for name in ways}
    result = LOGIN_CODE.answer_code("tx-1", code, HIDDEN, **answers)
    return result.get_data(as_text=True) if isinstance(result, Response) else result


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_the_page_names_the_masked_phone_the_code_went_to(provider):
    LOGIN_CODE.send(login(), PHONE)
    html = page_text(LOGIN_CODE)
    assert mask_phone(PHONE) in html and PHONE not in html


def test_a_send_that_was_refused_is_explained_once_on_the_next_page(provider):
    LOGIN_CODE.send(login(), PHONE)
    refused = LOGIN_CODE.send(login(), PHONE)
    assert not refused.sent
    first, second = page_text(LOGIN_CODE), page_text(LOGIN_CODE)
    assert f"Chưa gửi được mã OTP tới số {mask_phone(PHONE)}" in first
    assert "Chưa gửi được" not in second


def test_a_step_that_hides_the_phone_never_says_whether_a_code_went_out(provider):
    FORGOT_CODE.send(reset(), PHONE)
    FORGOT_CODE.send(reset(), PHONE)  # refused: the resend wait
    html = page_text(FORGOT_CODE)
    assert "Chưa gửi được" not in html and mask_phone(PHONE) not in html
    assert FORGOT_CODE.notice in html


def test_a_resend_within_the_wait_answers_429_with_the_seconds_to_wait(provider):
    LOGIN_CODE.send(login(), PHONE)
    html, status = LOGIN_CODE.answer_resend(login(), PHONE, HIDDEN)
    assert status == 429
    assert "Vui lòng chờ" in html and "giây trước khi gửi lại" in html


def test_a_resend_that_went_out_is_announced_on_the_page_it_leads_back_to(provider):
    LOGIN_CODE.send(login(), PHONE)
    response = LOGIN_CODE.answer_resend(login(), OTHER_PHONE, HIDDEN)
    assert response.status_code == 303
    assert f"Đã gửi lại mã OTP tới số {mask_phone(OTHER_PHONE)}" in page_text(LOGIN_CODE)


def test_a_forgot_password_resend_looks_the_same_sent_refused_or_for_nobody(provider):
    FORGOT_CODE.send(reset(), PHONE)
    refused = FORGOT_CODE.answer_resend(reset(), PHONE, HIDDEN)  # within the wait
    nobody = FORGOT_CODE.answer_resend(reset(), None, HIDDEN)  # an unknown CCCD
    assert (refused.status_code, nobody.status_code) == (303, 303)
    assert refused.headers["Location"] == nobody.headers["Location"]
    assert len(sms_to(provider, PHONE)) == 1


def test_a_wrong_code_shows_the_page_again_with_the_tries_left(provider):
    LOGIN_CODE.send(login(), PHONE)
    html, status = answer(wrong(last_otp(provider.settings, PHONE)), "passed", "exhausted")
    assert status == 400
    assert "Mã OTP không đúng. Bạn còn 4 lần thử." in html


def test_the_code_that_uses_the_last_try_ends_the_attempt_and_later_ones_find_it_spent(
        provider):
    LOGIN_CODE.send(login(), PHONE)
    bad = wrong(last_otp(provider.settings, PHONE))
    for _ in range(4):
        answer(bad, "passed", "exhausted", "spent")
    assert answer(bad, "passed", "exhausted", "spent") == "exhausted"
    assert answer(bad, "passed", "exhausted", "spent") == "spent"


def test_an_expired_code_is_told_apart_from_a_wrong_one_where_the_phone_is_shown():
    expired = LOGIN_CODE.wrong_code_message(CheckOutcome.EXPIRED, 3)
    wrong_one = LOGIN_CODE.wrong_code_message(CheckOutcome.WRONG, 3)
    assert "hết hiệu lực" in expired and "Gửi lại OTP" in expired
    assert "hết hiệu lực" not in wrong_one
    assert "Bạn còn 3 lần thử." in expired and "Bạn còn 3 lần thử." in wrong_one


def test_a_step_that_hides_the_phone_says_the_same_for_expired_and_wrong_codes():
    assert (FORGOT_CODE.wrong_code_message(CheckOutcome.EXPIRED, 2)
            == FORGOT_CODE.wrong_code_message(CheckOutcome.WRONG, 2))
