"""Lost OTP phone, self-service: after the password step, a new phone that the carrier says
is the citizen's own and that receives the OTP replaces the lost one; otherwise nothing
changes."""

from __future__ import annotations

from sqlalchemy import select

from idp.store.models import AuditEvent, OtpPhone
from tests.account.conftest import person_of
from tests.conftest import Flow, csrf_from, last_otp, query, read_otps
from tests.functional.test_logout import session_alive


def phones_of(provider, account_id: int) -> list[tuple[str, bool]]:
    with provider.db.sessions() as session:
        return [(phone.phone, phone.is_default) for phone in session.scalars(
            select(OtpPhone).where(OtpPhone.account_id == account_id).order_by(OtpPhone.id))]


def recover_results(provider) -> list[str]:
    with provider.db.sessions() as session:
        return [row.result for row in session.scalars(
            select(AuditEvent).where(AuditEvent.event == "phone.recover"))]


def past_password(flow: Flow, person) -> str:
    """A portal login past its password step; returns the transaction id."""
    response, *_ = flow.authorize()
    location = response.headers["Location"]
    assert flow.submit_password(location, person.cccd, person.password).status_code == 303
    return query(location)["tx"]


def submit_new_phone(browser, tx: str, phone: str):
    page = browser.get("/login/otp", query_string={"tx": tx}).get_data(as_text=True)
    assert f'href="/login/lost-phone?tx={tx}" id="lost-phone"' in page
    form = browser.get("/login/lost-phone", query_string={"tx": tx})
    assert form.status_code == 200
    return browser.post("/login/lost-phone", data={
        "csrf_token": csrf_from(form.get_data(as_text=True)), "tx": tx, "phone": phone})


def test_recovery_with_a_phone_the_carrier_confirms(browser, other_browser, settings,
                                                     make_account, make_portal, people,
                                                     provider, receiver):
    fixture = people.one("carrier: two subscriptions")
    new_phone = fixture.subscriptions[1].phone
    account_id, person = make_account(person_of(fixture))
    portal = make_portal("portal-a", backchannel_logout_uri=receiver.uri("/bc"))
    elsewhere = Flow(other_browser, settings, portal)
    elsewhere.login(person)  # a session on another device, which must end

    flow = Flow(browser, settings, portal)
    tx = past_password(flow, person)
    response = submit_new_phone(browser, tx, new_phone)
    assert response.status_code == 303, response.get_data(as_text=True)
    page = browser.get(response.headers["Location"])
    assert "+84 88*****50" in page.get_data(as_text=True)
    assert phones_of(provider, account_id) == [(fixture.phone, True)]  # not before the OTP

    response = browser.post("/login/lost-phone/otp", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "tx": tx,
        "otp": last_otp(settings, new_phone)})
    assert response.status_code == 303, response.get_data(as_text=True)
    # The login completes as usual (consent was given on the other device).
    assert response.headers["Location"].startswith(portal.redirect_uri + "?code=")

    assert phones_of(provider, account_id) == [(new_phone, True)]
    notice = [sms for sms in read_otps(settings) if sms["to"] == fixture.phone][-1]
    assert "đã được đổi sang +84 88*****50" in notice["text"]
    assert not session_alive(elsewhere)
    assert [path for path, _ in receiver.wait_for(1)] == ["/bc"]
    assert recover_results(provider) == ["success"]


def test_phone_of_someone_else_is_refused_and_nothing_changes(
        browser, other_browser, settings, make_account, make_portal, people, provider):
    fixture = people.one("carrier: full match")
    not_theirs = people.one("carrier: two subscriptions").subscriptions[1].phone
    account_id, person = make_account(person_of(fixture))
    portal = make_portal("portal-a")
    elsewhere = Flow(other_browser, settings, portal)
    elsewhere.login(person)

    tx = past_password(Flow(browser, settings, portal), person)
    response = submit_new_phone(browser, tx, not_theirs)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "cập nhật thông tin thuê bao" in html and "bộ phận một cửa" in html
    assert not any(sms["to"] == not_theirs for sms in read_otps(settings))
    assert phones_of(provider, account_id) == [(fixture.phone, True)]
    assert session_alive(elsewhere)
    assert recover_results(provider) == ["refused"]
    # Nothing changed: the SMS code to the old phone still completes the login.
    page = browser.get("/login/otp", query_string={"tx": tx}).get_data(as_text=True)
    assert browser.post("/login/otp", data={
        "csrf_token": csrf_from(page), "tx": tx, "otp": last_otp(settings, fixture.phone),
    }).status_code == 303


def test_checks_are_limited_and_need_the_password_step(browser, settings, make_account,
                                                       make_portal, people):
    fixture = people.one("carrier: full match")
    _, person = make_account(person_of(fixture))
    flow = Flow(browser, settings, make_portal("portal-a"))
    response, *_ = flow.authorize()
    fresh_tx = query(response.headers["Location"])["tx"]
    response = browser.get("/login/lost-phone", query_string={"tx": fresh_tx})
    assert response.status_code == 302 and "/login?" in response.headers["Location"]
    assert browser.get("/login/lost-phone?tx=unknown").status_code == 400

    tx = past_password(flow, person)
    current = submit_new_phone(browser, tx, fixture.phone)
    assert "đang nhận OTP" in current.get_data(as_text=True)
    for status in (400, 400, 400, 429):
        response = submit_new_phone(browser, tx, people.unknown_phones[0])
        assert response.status_code == status
    assert "quá nhiều" in response.get_data(as_text=True)
