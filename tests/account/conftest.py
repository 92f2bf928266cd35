"""Helpers of the account-console tests: fixture people as accounts, console login, a
portal back-channel receiver, a second browser, and ageing a session's authentication."""

from __future__ import annotations

import re

import pytest

from connectors.email import read_outbox
from connectors.simulators.fixtures import FixturePerson
from tests.conftest import HttpsClient, Person, csrf_from, last_otp, query
from tests.receiver import Receiver


@pytest.fixture
def settings(settings_for, simulators, tmp_path, overrides):
    """The simulators, an e-mail outbox of this test's own, and the test's `config(...)`."""
    sections = {name: {"url": sim.url} for name, sim in simulators.items()}
    sections["email"] = {"outbox_path": str(tmp_path / "mail.jsonl")}
    for name, values in overrides.items():
        sections[name] = {**sections.get(name, {}), **values}
    return settings_for(**sections)


@pytest.fixture
def receiver():
    """A portal's back-channel logout endpoint."""
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def other_browser(app):
    """A second browser (its own cookies) for the same citizen."""
    app.test_client_class = HttpsClient
    return app.test_client()


def person_of(fixture: FixturePerson) -> Person:
    """A fixture person of the simulators as `make_account` takes them."""
    return Person(fixture.cccd, fixture.full_name, fixture.birthdate.isoformat(),
                  fixture.gender, fixture.phone, fixture.email or "")


def post_form(browser, page_path: str, action: str, **fields):
    """Open `page_path` for its CSRF token, then POST `fields` to `action`."""
    page = browser.get(page_path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return browser.post(action, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                      **fields})


def finish_password_and_otp(browser, settings, location: str, person: Person):
    """From a login page location: password, then the SMS code; returns the last response."""
    tx = query(location)["tx"]
    page = browser.get(location)
    response = browser.post("/login", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "tx": tx,
        "cccd": person.cccd, "password": person.password,
    })
    assert response.status_code == 303, response.get_data(as_text=True)
    page = browser.get("/login/otp", query_string={"tx": tx})
    return browser.post("/login/otp", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "tx": tx,
        "otp": last_otp(settings),
    })


def console_login(browser, settings, person: Person, path: str = "/account"):
    """Open a console page logged out: log in and come back to it."""
    response = browser.get(path)
    assert response.status_code == 302 and "/login?" in response.headers["Location"]
    response = finish_password_and_otp(browser, settings, response.headers["Location"], person)
    assert response.status_code == 303 and response.headers["Location"] == path
    return browser.get(path)


def age_authentication(app, browser, seconds: int) -> None:
    """Pretend this browser's last login was `seconds` ago (re-authentication tests)."""
    from idp.sessions import load_session, reauthenticate

    sid = browser.get_cookie("__Host-idp_session", domain="sso.test").value
    with app.test_request_context():
        session = load_session(sid)
        reauthenticate(session, session.auth_time - seconds, session.acr, session.amr)


def email_links(settings, to: str) -> list[str]:
    """The verification links e-mailed to `to`, oldest first."""
    return [re.search(r"(https://\S+)", mail["body"]).group(1)
            for mail in read_outbox(settings.email.outbox_path) if mail["to"] == to]
