"""Forgot password: CCCD → OTP to the account's OTP phone → new password → everything revoked.

The answer to the CCCD form must not tell whether the CCCD has an account: the
same redirect, the same OTP screen (naming no phone), the same failures. Over 400 lines:
that sameness is checked at every step, beside the step's own refusals.
"""

from __future__ import annotations

import re
import time
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from idp.store.models import Account
from tests.conftest import basic, config, csrf_from, last_otp, make_person, query, read_otps

TRIES = 5  # the default of the limit otp.wrong_codes

NEW_PASSWORD = "Cay-Tre#Lang-Que-8362"
UNKNOWN_CCCD = "001085999999"
NOTICE = "vừa được đặt lại"


# --- helpers ---------------------------------------------------------------------------


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def alert(html: str) -> str:
    """The page's error: the form's own, or the first field's."""
    match = re.search(r'id="error">(?:<a [^>]*>)?([^<]*)<', html) or re.search(
        r'class="field-error" id="[^"]*">([^<]*)<', html)
    return match.group(1) if match else ""


class Reset:
    """One browser going through the forgot-password screens."""

    def __init__(self, client, app, provider, settings) -> None:
        self.client, self.app, self.provider, self.settings = client, app, provider, settings

    def start(self, cccd: str, captcha: str | None = "right"):
        html = self.client.get("/forgot").get_data(as_text=True)
        captcha_id = hidden(html, "captcha_id")
        data = {"csrf_token": csrf_from(html), "captcha_id": captcha_id, "cccd": cccd}
        if captcha == "right":
            with self.app.app_context():
                data["captcha"] = self.provider.state.get(f"captcha:{captcha_id}")["answer"]
        elif captcha == "wrong":
            data["captcha"] = "22222"
        return self.client.post("/forgot", data=data)

    def otp_page(self, reset_id: str):
        return self.client.get("/forgot/otp", query_string={"f": reset_id})

    def submit_otp(self, reset_id: str, code: str):
        html = self.otp_page(reset_id).get_data(as_text=True)
        return self.client.post("/forgot/otp", data={
            "csrf_token": csrf_from(html), "f": reset_id, "otp": code})

    def resend(self, reset_id: str):
        html = self.otp_page(reset_id).get_data(as_text=True)
        return self.client.post("/forgot/otp/resend", data={
            "csrf_token": csrf_from(html), "f": reset_id})

    def set_password(self, reset_id: str, password: str, confirm: str | None = None):
        page = self.client.get("/forgot/password", query_string={"f": reset_id})
        assert page.status_code == 200, page.get_data(as_text=True)
        return self.client.post("/forgot/password", data={
            "csrf_token": csrf_from(page.get_data(as_text=True)), "f": reset_id,
            "password": password, "confirm": password if confirm is None else confirm})

    def prove(self, cccd: str, phone: str) -> str:
        """Start and pass the OTP step; returns the reset id at the password step."""
        response = self.start(cccd)
        assert response.status_code == 303, response.get_data(as_text=True)
        reset_id = query(response.headers["Location"])["f"]
        response = self.submit_otp(reset_id, last_otp(self.settings, phone))
        assert response.status_code == 303, response.get_data(as_text=True)
        assert urlsplit(response.headers["Location"]).path == "/forgot/password"
        return reset_id


@pytest.fixture
def reset(app, provider, settings, browser) -> Reset:
    """The reset runs in a browser of its own (the user's other device)."""
    return Reset(app.test_client(), app, provider, settings)


def normalized(html: str) -> str:
    """An OTP screen without its per-request values."""
    html = re.sub(r'value="[^"]*"', 'value=""', html)
    return re.sub(r'data-(expires|extend|csrf)="[^"]*"', "", html)


def sms_to(settings, phone: str) -> list[str]:
    return [m["text"] for m in read_otps(settings) if m["to"] == phone]


def session_alive(flow, scope: str) -> bool:
    """prompt=none answers with a code only while the SSO session lives."""
    response, *_ = flow.authorize(prompt="none", scope=scope)
    params = query(response.headers["Location"])
    if "code" in params:
        return True
    assert params["error"] == "login_required", params
    return False


def refresh(flow, refresh_token: str):
    return flow.browser.post("/token", data={"grant_type": "refresh_token",
                                             "refresh_token": refresh_token},
                             headers={"Authorization": basic(flow.portal)})


def introspect(flow, token: str) -> dict:
    return flow.browser.post("/introspect", data={"token": token},
                             headers={"Authorization": basic(flow.portal)}).get_json()


# --- the reset -------------------------------------------------------------------------


def test_reset_revokes_everything_and_sends_a_notice(flow, make_account, reset, settings,
                                                     provider):
    account_id, person = make_account()
    scope = "openid profile offline_access"
    auth = flow.login(person, scope=scope)
    tokens = flow.exchange(auth).get_json()
    assert session_alive(flow, scope)
    assert introspect(flow, tokens["access_token"])["active"] is True

    reset_id = reset.prove(person.cccd, person.phone)
    assert "đặt lại mật khẩu" in sms_to(settings, person.phone)[-1]
    done = reset.set_password(reset_id, NEW_PASSWORD)
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and 'id="reset-done"' in html, html

    # A notice SMS went to the OTP phone.
    assert NOTICE in sms_to(settings, person.phone)[-1]
    # Every SSO session ended: the logged-in browser must log in again.
    assert not session_alive(flow, scope)
    # Every refresh token issued before is dead, and its access token too.
    refused = refresh(flow, tokens["refresh_token"])
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_grant"
    assert introspect(flow, tokens["access_token"]) == {"active": False}

    # The old password no longer works; the new one does.
    response, *_ = flow.authorize()
    location = response.headers["Location"]
    old = flow.submit_password(location, person.cccd, person.password)
    assert old.status_code != 303
    assert "không đúng" in old.get_data(as_text=True)
    auth = flow.login(SimpleNamespace(cccd=person.cccd, password=NEW_PASSWORD))
    assert flow.exchange(auth).status_code == 200

    # The reset link is used up.
    assert reset.client.get("/forgot/password", query_string={"f": reset_id}).status_code == 400
    with provider.db.sessions() as session:
        account = session.get(Account, account_id)
        assert account.status == "active"


def test_reset_goes_to_the_default_otp_phone(make_account, reset, settings):
    _, person = make_account(extra_phones=["+84988123456"])
    reset_id = reset.prove(person.cccd, person.phone)
    assert sms_to(settings, "+84988123456") == []
    assert reset.set_password(reset_id, NEW_PASSWORD).status_code == 200
    assert NOTICE in sms_to(settings, person.phone)[-1]


# --- an unknown CCCD looks the same ----------------------------------------------------


def test_unknown_cccd_gets_the_same_answer(make_account, reset, settings, app, provider):
    _, person = make_account()
    known = reset.start(person.cccd)
    other = Reset(app.test_client(), app, provider, settings)
    unknown = other.start(UNKNOWN_CCCD)
    assert known.status_code == unknown.status_code == 303
    assert urlsplit(known.headers["Location"]).path == urlsplit(unknown.headers["Location"]).path
    known_id, unknown_id = (query(r.headers["Location"])["f"] for r in (known, unknown))

    known_page = reset.otp_page(known_id)
    unknown_page = other.otp_page(unknown_id)
    assert known_page.status_code == unknown_page.status_code == 200
    known_html, unknown_html = known_page.get_data(as_text=True), unknown_page.get_data(
        as_text=True)
    # No phone named, not even masked, and nothing else that differs.
    assert "+84" not in known_html and "+84" not in unknown_html
    assert normalized(known_html) == normalized(unknown_html)

    # Only the known CCCD's phone got a code.
    assert len(read_otps(settings)) == 1 and read_otps(settings)[0]["to"] == person.phone

    # Wrong codes fail alike; for the unknown CCCD every code is wrong.
    for code in ("000000", "123456", last_otp(settings, person.phone)):
        response = other.submit_otp(unknown_id, code)
        assert response.status_code == 400
        assert "Mã OTP không đúng" in alert(response.get_data(as_text=True))
    response = reset.submit_otp(known_id, "000000")
    assert response.status_code == 400
    assert "Mã OTP không đúng" in alert(response.get_data(as_text=True))
    assert other.client.get("/forgot/password", query_string={"f": unknown_id}
                            ).status_code == 400

    # Re-sending: the same answer again, and still no SMS for the unknown CCCD.
    assert other.resend(unknown_id).status_code == 303
    assert len(read_otps(settings)) == 1


def test_unknown_cccd_runs_out_of_tries(reset, settings):
    response = reset.start(UNKNOWN_CCCD)
    reset_id = query(response.headers["Location"])["f"]
    for _ in range(TRIES - 1):
        assert reset.submit_otp(reset_id, "000000").status_code == 400
    response = reset.submit_otp(reset_id, "000000")
    assert response.status_code == 400
    assert "quá số lần cho phép" in response.get_data(as_text=True)
    assert reset.otp_page(reset_id).status_code == 400
    assert read_otps(settings) == []


def test_wrong_otps_end_the_reset(make_account, reset, settings):
    _, person = make_account()
    response = reset.start(person.cccd)
    reset_id = query(response.headers["Location"])["f"]
    code = last_otp(settings, person.phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in range(TRIES - 1, 0, -1):
        response = reset.submit_otp(reset_id, wrong)
        assert f"Bạn còn {left} lần thử" in alert(response.get_data(as_text=True))
    response = reset.submit_otp(reset_id, wrong)
    assert "quá số lần cho phép" in response.get_data(as_text=True)
    assert reset.otp_page(reset_id).status_code == 400


def test_locked_account_is_treated_as_unknown(make_account, reset, settings, provider):
    account_id, person = make_account()
    with provider.db.sessions() as session:
        session.get(Account, account_id).status = "locked"
        session.commit()
    response = reset.start(person.cccd)
    assert response.status_code == 303
    assert read_otps(settings) == []


# --- the form's checks -----------------------------------------------------------------


@pytest.mark.parametrize("captcha", [None, "wrong"])
def test_captcha_is_required(make_account, reset, settings, captcha):
    _, person = make_account()
    response = reset.start(person.cccd, captcha=captcha)
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html
    assert "Mã kiểm tra" in alert(html)
    assert read_otps(settings) == []
    assert f'value="{person.cccd}"' in html  # what was typed is kept


def test_captcha_is_single_use(make_account, reset, settings):
    _, person = make_account()
    html = reset.client.get("/forgot").get_data(as_text=True)
    captcha_id = hidden(html, "captcha_id")
    with reset.app.app_context():
        answer = reset.provider.state.get(f"captcha:{captcha_id}")["answer"]
    data = {"csrf_token": csrf_from(html), "captcha_id": captcha_id, "captcha": answer,
            "cccd": person.cccd}
    assert reset.client.post("/forgot", data=data).status_code == 303
    assert reset.client.post("/forgot", data=data).status_code == 400
    assert len(read_otps(settings)) == 1


@pytest.mark.parametrize("cccd", ["", "12345", "abcdefghijkl", "999085012345"])
def test_invalid_cccd_is_refused(reset, settings, cccd):
    response = reset.start(cccd)
    assert response.status_code == 400
    assert alert(response.get_data(as_text=True))
    assert read_otps(settings) == []


@config(limits={"sms.reset.cccd": "2 per hour"})
def test_codes_per_cccd_are_capped_and_never_touch_the_login(make_account, reset, settings,
                                                             flow):
    _, person = make_account()
    for _ in range(4):
        assert reset.start(person.cccd).status_code == 303
    assert len(read_otps(settings)) == 2  # past the cap it goes on like an unknown CCCD
    # The owner's login has its own count: a code comes at once.
    flow.login(person)
    assert len(read_otps(settings)) == 4  # its code, then the notice of a new browser


@config(limits={"sms.reset.cccd": "1 per hour"})
def test_sms_cap_per_phone_answers_like_an_unknown_cccd(make_account, reset, settings,
                                                       app, provider):
    """The phone's SMS cap holds, but a known CCCD past it gets what an unknown CCCD gets
    (the OTP page, no code): a 429 only known CCCDs could see would say they exist."""
    from sqlalchemy import select

    from idp.store.models import AuditEvent

    _, person = make_account()
    assert reset.start(person.cccd).status_code == 303
    capped = reset.start(person.cccd)
    unknown = reset.start(UNKNOWN_CCCD)
    assert capped.status_code == unknown.status_code == 303
    assert "/forgot/otp" in capped.headers["Location"]
    assert len(read_otps(settings)) == 1
    with app.app_context():
        refused = provider.db.session.scalars(
            select(AuditEvent).where(AuditEvent.event == "otp.send",
                                     AuditEvent.result == "refused")).all()
    assert [event.detail["reason"] for event in refused] == ["sms.reset.cccd"]


@config(limits={"reset.starts.address": "3 per hour"})
def test_attempts_per_ip_count_known_and_unknown_alike(make_account, reset, settings):
    _, person = make_account()
    for cccd in (person.cccd, UNKNOWN_CCCD, person.cccd):
        assert reset.start(cccd).status_code == 303
    assert reset.start(UNKNOWN_CCCD).status_code == 429
    assert reset.start(person.cccd).status_code == 429


# --- the new password ------------------------------------------------------------------


def weak_passwords(person) -> dict[str, str]:
    return {
        "short": "Ab1!",
        "no special": "CayTreLangQue8362",
        "cccd": f"Xa#{person.cccd}",
        "birthdate": "Qz#15031985x",
        "phone": f"Xa#0{person.phone[3:]}",
        "common": "Password1!",
    }


@pytest.mark.parametrize("kind", ["short", "no special", "cccd", "birthdate", "phone",
                                  "common"])
def test_weak_password_is_refused(make_account, reset, settings, flow, kind):
    _, person = make_account()
    reset_id = reset.prove(person.cccd, person.phone)
    response = reset.set_password(reset_id, weak_passwords(person)[kind])
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html
    assert re.findall(r"<li>([^<]+)</li>", html)
    assert not any(NOTICE in text for text in sms_to(settings, person.phone))
    # Nothing changed: the old password still logs in.
    flow.login(person)


def test_confirmation_must_match(make_account, reset, settings):
    _, person = make_account()
    reset_id = reset.prove(person.cccd, person.phone)
    response = reset.set_password(reset_id, NEW_PASSWORD, NEW_PASSWORD + "!")
    assert response.status_code == 400
    assert "không khớp" in response.get_data(as_text=True)
    assert reset.set_password(reset_id, NEW_PASSWORD).status_code == 200


def test_password_step_needs_the_otp(make_account, reset, settings):
    _, person = make_account()
    response = reset.start(person.cccd)
    reset_id = query(response.headers["Location"])["f"]
    assert reset.client.get("/forgot/password", query_string={"f": reset_id}
                            ).status_code == 400
    html = reset.client.get("/forgot").get_data(as_text=True)
    forced = reset.client.post("/forgot/password", data={
        "csrf_token": csrf_from(html), "f": reset_id, "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD})
    assert forced.status_code == 400


def test_reset_is_bound_to_its_browser(make_account, reset, app, settings):
    _, person = make_account()
    reset_id = reset.prove(person.cccd, person.phone)
    stranger = app.test_client()
    assert stranger.get("/forgot/password", query_string={"f": reset_id}).status_code == 400
    assert stranger.get("/forgot/otp", query_string={"f": reset_id}).status_code == 400


def test_forgot_link_from_the_login_page(flow, make_account):
    make_account(make_person(1))
    response, *_ = flow.authorize()
    html = flow.browser.get(response.headers["Location"]).get_data(as_text=True)
    assert 'href="/forgot?tx=' in html


def test_resend_answers_alike_for_known_and_unknown(make_account, reset, app, provider,
                                                    settings):
    _, person = make_account()
    other = Reset(app.test_client(), app, provider, settings)
    known = query(reset.start(person.cccd).headers["Location"])["f"]
    unknown = query(other.start(UNKNOWN_CCCD).headers["Location"])["f"]
    # Within the re-send cooldown: no second code, and the same answer for both.
    first, second = reset.resend(known), other.resend(unknown)
    assert first.status_code == second.status_code == 303
    assert len(read_otps(settings)) == 1


@config(limits={"sms.resend_wait": "1 per 1 second"})
def test_resend_sends_a_new_code_to_the_same_phone(make_account, reset, settings):
    _, person = make_account()
    reset_id = query(reset.start(person.cccd).headers["Location"])["f"]
    first = last_otp(settings, person.phone)
    time.sleep(1.1)
    assert reset.resend(reset_id).status_code == 303
    assert [m["to"] for m in read_otps(settings)] == [person.phone, person.phone]
    second = last_otp(settings, person.phone)
    if first != second:
        assert reset.submit_otp(reset_id, first).status_code == 400
    assert reset.submit_otp(reset_id, second).status_code == 303
