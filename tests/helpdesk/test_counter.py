"""Assisted registration at the desk: a level-2 account verified "at counter"; the citizen
sets the password through a one-time link on their own phone, then logs in to a portal."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import select

from idp.store.models import Account
from tests.conftest import ISSUER, Flow, csrf_from, forged_host, make_person, read_otps
from tests.helpdesk.conftest import audit_rows
from vnid.person import mask_cccd

CITIZEN_PASSWORD = "Cau-Rong#Da-Nang-7731"


def registration(person, **overrides) -> dict:
    values = {"cccd": person.cccd, "full_name": person.full_name,
              "birthdate": "15/03/1985", "gender": person.gender, "phone": person.phone,
              "email": "", "evidence_type": "cccd", "evidence_number": person.cccd}
    values.update(overrides)
    return values


def activation_link(settings, phone: str) -> str:
    [text] = [m["text"] for m in read_otps(settings) if m["to"] == phone]
    url = urlsplit(re.search(r"(https://\S+)", text).group(1))
    return f"{url.path}?{url.query}"


def test_counter_activation_link_is_on_the_issuer_whatever_the_host_header(app, console,
                                                                           settings):
    person = make_person(8)
    page = console("registrar")
    page.get("/helpdesk/register")
    with forged_host(app):
        response = page.post("/helpdesk/register", **registration(person))
    assert response.status_code == 200, response.get_data(as_text=True)
    [text] = [m["text"] for m in read_otps(settings) if m["to"] == person.phone]
    assert "evil.example" not in text and f"{ISSUER}/counter/activate?token=" in text


def set_password(browser, link: str, password: str, confirm: str | None = None):
    page = browser.get(link)
    assert page.status_code == 200, page.get_data(as_text=True)
    return browser.post("/counter/activate", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)),
        "token": link.split("token=", 1)[1], "password": password,
        "confirm": password if confirm is None else confirm})


def accounts(provider, cccd: str) -> list[Account]:
    with provider.db.sessions() as session:
        return list(session.scalars(select(Account).where(Account.cccd_is(cccd))))


def test_registration_activation_and_login(console, provider, settings, browser, make_portal):
    person = make_person(7)
    page = console("registrar")
    assert page.get("/helpdesk/register").status_code == 200
    response = page.post("/helpdesk/register", **registration(person))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="registered"' in html, html
    [account] = accounts(provider, person.cccd)
    assert (account.ial, account.verified_by, account.status) == (2, "counter", "active")
    [row] = audit_rows(provider, "staff.register_citizen")
    assert (row.actor, row.actor_role, row.account_id) == (page.user.actor, "registrar",
                                                           account.id)
    assert row.detail["evidence_type"] == "cccd" and row.detail["cccd"] == mask_cccd(person.cccd)
    assert person.cccd not in str(row.detail)

    link = activation_link(settings, person.phone)
    weak = set_password(browser, link, "matkhau123")
    assert weak.status_code == 400 and "chữ hoa" in weak.get_data(as_text=True)
    mismatch = set_password(browser, link, CITIZEN_PASSWORD, "Khac-Mat#Khau-9999")
    assert mismatch.status_code == 400 and "không khớp" in mismatch.get_data(as_text=True)
    done = set_password(browser, link, CITIZEN_PASSWORD)
    assert done.status_code == 303
    assert 'id="activated"' in browser.get(done.headers["Location"]).get_data(as_text=True)
    assert len(audit_rows(provider, "counter.activate", account_id=account.id)) == 1

    # The link works once.
    again = browser.get(link)
    assert again.status_code == 400 and "đã được dùng" in again.get_data(as_text=True)
    # The citizen logs in to a portal with the password they chose.
    person.password = CITIZEN_PASSWORD
    auth = Flow(browser, settings, make_portal()).login(person)
    assert "code" in auth.params


def test_registration_refusals(console, provider, settings, make_account):
    page = console("registrar")
    person = make_person(8)
    mismatch = page.post("/helpdesk/register",
                         **registration(person, evidence_number="001085999999"))
    assert mismatch.status_code == 400
    assert 'id="error-evidence"' in mismatch.get_data(as_text=True)
    invalid = page.post("/helpdesk/register", **registration(person, phone="12345"))
    assert invalid.status_code == 400 and 'id="error-phone"' in invalid.get_data(as_text=True)
    assert accounts(provider, person.cccd) == [] and read_otps(settings) == []

    _, taken = make_account(make_person(9))
    duplicate = page.post("/helpdesk/register", **registration(taken))
    assert duplicate.status_code == 409 and "đã có tài khoản" in duplicate.get_data(as_text=True)
    assert audit_rows(provider, "staff.register_citizen") == []


def test_bad_or_missing_token(browser):
    for link in ("/counter/activate", "/counter/activate?token=" + "x" * 43):
        response = browser.get(link)
        assert response.status_code == 400
        assert "Liên kết kích hoạt không hợp lệ" in response.get_data(as_text=True)


def test_counter_form_attributes_are_real_attributes(console):
    html = console("registrar").get("/helpdesk/register").get_data(as_text=True)
    cccd = re.search(r'<input type="text" id="cccd"[^>]*>', html, re.S).group(0)
    assert 'inputmode="numeric"' in cccd and "&quot;" not in cccd and " required" in cccd
    birthdate = re.search(r'<input type="text" id="birthdate"[^>]*>', html, re.S).group(0)
    assert 'placeholder="25/12/1990"' in birthdate and "&quot;" not in birthdate
