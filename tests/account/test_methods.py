"""Changing login methods from the console: recent authentication, password, OTP phones
(carrier check + OTP), default phone, contact e-mail by a single-use link."""

from __future__ import annotations

import re

from sqlalchemy import select

from idp.store.models import Account, AuditEvent, OtpPhone, RefreshToken
from tests.account.conftest import (
    age_authentication,
    console_login,
    email_links,
    finish_password_and_otp,
    person_of,
    post_form,
)
from tests.conftest import (
    ISSUER,
    Flow,
    basic,
    config,
    csrf_from,
    forged_host,
    last_otp,
    read_otps,
)
from tests.functional.test_logout import session_alive

NEW_PASSWORD = "Song-Hong#Mua-Thu-2031"


def phones_of(provider, account_id: int) -> list[tuple[str, bool]]:
    with provider.db.sessions() as session:
        return [(phone.phone, phone.is_default) for phone in session.scalars(
            select(OtpPhone).where(OtpPhone.account_id == account_id).order_by(OtpPhone.id))]


def events(provider, name: str) -> list[AuditEvent]:
    with provider.db.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def test_old_authentication_must_be_renewed_first(app, browser, settings, make_account):
    _, person = make_account()
    console_login(browser, settings, person)
    age_authentication(app, browser, 11 * 60)
    page = browser.get("/account/password")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "trong vòng 10 phút" in html
    location = re.search(r'href="([^"]+)" id="reauth-login"', html).group(1)
    assert f'value="{person.cccd}"' in browser.get(location).get_data(as_text=True)
    response = finish_password_and_otp(browser, settings, location, person)
    assert response.headers["Location"] == "/account/password"
    assert 'id="current"' in browser.get("/account/password").get_data(as_text=True)


def test_password_change(browser, other_browser, settings, make_account, make_portal, provider):
    account_id, person = make_account()
    portal = make_portal("portal-a")
    flow = Flow(browser, settings, portal)
    tokens = flow.exchange(flow.login(person, scope="openid offline_access")).get_json()
    Flow(other_browser, settings, portal).login(person)

    def change(current: str, new: str, confirm: str | None = None):
        return post_form(browser, "/account/password", "/account/password", current=current,
                         password=new, confirm=confirm or new)

    wrong = change("Sai-Mat-Khau#2024", NEW_PASSWORD)
    assert wrong.status_code == 400
    assert "Mật khẩu hiện tại không đúng" in wrong.get_data(as_text=True)
    weak = change(person.password, "abc12345")
    assert weak.status_code == 400 and "chữ hoa" in weak.get_data(as_text=True)
    personal = change(person.password, f"An#{person.cccd}x")
    assert personal.status_code == 400 and "dễ đoán" in personal.get_data(as_text=True)
    mismatch = change(person.password, NEW_PASSWORD, NEW_PASSWORD + "x")
    assert "không khớp" in mismatch.get_data(as_text=True)

    done = change(person.password, NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["Location"].endswith("done=password")
    with provider.db.sessions() as session:
        account = session.get(Account, account_id)
        assert provider.passwords.verify(account.password_hash, NEW_PASSWORD)
        assert all(token.revoked_at for token in session.scalars(select(RefreshToken)))
    refreshed = browser.post("/token", data={"grant_type": "refresh_token",
                                             "refresh_token": tokens["refresh_token"]},
                             headers={"Authorization": basic(portal)})
    assert refreshed.status_code == 400
    assert not session_alive(Flow(other_browser, settings, portal))
    assert session_alive(Flow(browser, settings, portal))  # this browser stays logged in
    assert "thay đổi" in read_otps(settings)[-1]["text"]
    assert [e.result for e in events(provider, "password.change")] == [
        "failure", "refused", "refused", "refused", "success"]


def test_add_a_phone_the_carrier_confirms(browser, settings, make_account, people, provider):
    fixture = people.one("carrier: two subscriptions")
    second_sim = fixture.subscriptions[1].phone
    account_id, person = make_account(person_of(fixture))
    console_login(browser, settings, person)

    response = post_form(browser, "/account/security", "/account/phones/add",
                         phone="0" + second_sim[3:])
    assert response.status_code == 303, response.get_data(as_text=True)
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Xác nhận số điện thoại mới" in page and "+84 88*****50" in page
    assert phones_of(provider, account_id) == [(fixture.phone, True)]  # not before the OTP

    wrong = post_form(browser, "/account/phones/verify", "/account/phones/verify", otp="000000")
    assert wrong.status_code == 400 and "còn 4 lần" in wrong.get_data(as_text=True)
    right = post_form(browser, "/account/phones/verify", "/account/phones/verify",
                      otp=last_otp(settings, second_sim))
    assert right.status_code == 303 and right.headers["Location"].endswith("done=phone_added")
    assert phones_of(provider, account_id) == [(fixture.phone, True), (second_sim, False)]
    notice = read_otps(settings)[-1]
    assert notice["to"] == fixture.phone and "vừa được thêm" in notice["text"]
    assert [e.result for e in events(provider, "phone.add")] == ["success"]


def test_phone_of_someone_else_is_refused(browser, settings, make_account, people, provider):
    fixture = people.one("carrier: full match")
    someone_else = people.one("carrier: two subscriptions").subscriptions[1].phone
    account_id, person = make_account(person_of(fixture))
    console_login(browser, settings, person)
    sent_before = len(read_otps(settings))

    response = post_form(browser, "/account/security", "/account/phones/add", phone=someone_else)
    assert response.status_code == 400
    assert "thuê bao chính chủ" in response.get_data(as_text=True)
    assert len(read_otps(settings)) == sent_before
    assert phones_of(provider, account_id) == [(fixture.phone, True)]
    bad = post_form(browser, "/account/security", "/account/phones/add", phone="024 3825 1234")
    assert bad.status_code == 400 and "không hợp lệ" in bad.get_data(as_text=True)


def test_remove_and_default_phone(browser, settings, make_account, provider):
    account_id, person = make_account(extra_phones=["+84987000111"])
    console_login(browser, settings, person)
    [(first_id, _), (second_id, _)] = _phone_ids(provider, account_id)

    response = post_form(browser, "/account/security", "/account/phones/default",
                         phone_id=str(second_id))
    assert response.status_code == 303
    assert phones_of(provider, account_id) == [(person.phone, False), ("+84987000111", True)]
    assert read_otps(settings)[-1]["to"] == person.phone  # the old default is told

    response = post_form(browser, "/account/security", "/account/phones/remove",
                         phone_id=str(second_id))
    assert response.status_code == 303
    assert phones_of(provider, account_id) == [(person.phone, True)]
    last = post_form(browser, "/account/security", "/account/phones/remove",
                     phone_id=str(first_id))
    assert last.status_code == 400 and "duy nhất" in last.get_data(as_text=True)
    assert phones_of(provider, account_id) == [(person.phone, True)]
    foreign = post_form(browser, "/account/security", "/account/phones/default", phone_id="999")
    assert foreign.status_code == 400
    assert [e.event for e in events(provider, "phone.default") + events(provider, "phone.remove")
            ] == ["phone.default", "phone.remove"]


def _phone_ids(provider, account_id: int) -> list[tuple[int, str]]:
    with provider.db.sessions() as session:
        return [(phone.id, phone.phone) for phone in session.scalars(
            select(OtpPhone).where(OtpPhone.account_id == account_id).order_by(OtpPhone.id))]


def test_contact_email_link_is_on_the_issuer_whatever_the_host_header(app, browser, settings,
                                                                       make_account):
    _, person = make_account(email="")
    console_login(browser, settings, person)
    page = browser.get("/account/email")
    with forged_host(app):
        sent = browser.post("/account/email", data={
            "csrf_token": csrf_from(page.get_data(as_text=True)), "email": "an@example.vn"})
    assert sent.status_code == 200, sent.get_data(as_text=True)
    [link] = email_links(settings, "an@example.vn")
    assert link.startswith(f"{ISSUER}/account/email/verify?token=")


@config(limits={"account.email_links": "1 per 10 minutes"})
def test_too_many_email_links_says_until_when(browser, settings, make_account):
    _, person = make_account(email="")
    console_login(browser, settings, person)
    assert post_form(browser, "/account/email", "/account/email",
                     email="an@example.vn").status_code == 200
    refused = post_form(browser, "/account/email", "/account/email", email="an@example.vn")
    assert refused.status_code == 429
    # The window configured (ten minutes), not a fixed hour: the time it ends, to the minute
    # (with the date when those ten minutes cross midnight in Vietnam).
    assert re.search(r"thử lại sau \d\d:\d\d( ngày \d\d/\d\d)?\.",
                     refused.get_data(as_text=True))
    assert len(email_links(settings, "an@example.vn")) == 1


def test_contact_email_by_single_use_link(browser, other_browser, settings, make_account,
                                          provider):
    account_id, person = make_account(email="")
    console_login(browser, settings, person)
    bad = post_form(browser, "/account/email", "/account/email", email="khong-hop-le")
    assert bad.status_code == 400
    sent = post_form(browser, "/account/email", "/account/email", email="An.Moi@Example.VN")
    assert sent.status_code == 200 and 'id="email-sent"' in sent.get_data(as_text=True)
    with provider.db.sessions() as session:
        assert session.get(Account, account_id).email is None  # not before the link

    [link] = email_links(settings, "An.Moi@example.vn")
    path = link.removeprefix("https://sso.test")
    page = other_browser.get(path)  # often opened from a mail app, without the session
    assert page.status_code == 200 and 'id="confirm-email"' in page.get_data(as_text=True)
    token = path.split("token=")[1]
    confirmed = post_form(other_browser, path, "/account/email/verify", token=token)
    assert confirmed.status_code == 200
    assert 'id="email-confirmed"' in confirmed.get_data(as_text=True)
    with provider.db.sessions() as session:
        account = session.get(Account, account_id)
        assert (account.email, account.email_verified) == ("An.Moi@example.vn", True)

    assert other_browser.get(path).status_code == 400  # single use
    again = post_form(browser, "/account/email", "/account/email/verify", token=token)
    assert again.status_code == 400
    assert [e.result for e in events(provider, "email.verify")] == ["success", "refused"]
