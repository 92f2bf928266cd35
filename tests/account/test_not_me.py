""""Không phải tôi" and the notice of a login from a new browser."""

from __future__ import annotations

import re

from sqlalchemy import select

from idp.store.models import AuditEvent, Complaint
from tests.account.conftest import post_form
from tests.conftest import Flow, basic, csrf_from, make_person, read_otps

FIREFOX = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 "
           "Firefox/133.0")


def _stranger_logins(stranger, settings, person, offline_portal, session_portal):
    """The stranger logs in at two portals: an offline refresh token from one, a token
    bound to the session from the other. Returns both refresh tokens."""
    stranger.environ_base["HTTP_USER_AGENT"] = FIREFOX
    offline = Flow(stranger, settings, offline_portal)
    tokens = [offline.exchange(offline.login(person, scope="openid profile offline_access"))
              .get_json()["refresh_token"]]
    bound = Flow(stranger, settings, session_portal)
    tokens.append(bound.exchange(bound.login(person, scope="openid profile")).get_json()
                  ["refresh_token"])
    return tokens


def _refresh(client, portal, token):
    return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                       headers={"Authorization": basic(portal)})


def _login_rows(provider, account_id):
    with provider.db.sessions() as session:
        return session.scalars(select(AuditEvent).where(
            AuditEvent.account_id == account_id, AuditEvent.event == "login",
            AuditEvent.result == "success").order_by(AuditEvent.id)).all()


def test_not_me_in_history_ends_that_login_revokes_its_tokens_and_files_a_complaint(
        browser, other_browser, settings, make_account, make_portal, receiver, provider):
    account_id, person = make_account()
    offline_portal = make_portal("portal-a", backchannel_logout_uri=receiver.uri("/a"))
    session_portal = make_portal("portal-b", backchannel_logout_uri=receiver.uri("/b"),
                                 session_refresh_tokens=True)
    stolen = _stranger_logins(other_browser, settings, person, offline_portal, session_portal)
    own = Flow(browser, settings, offline_portal)
    own_token = own.exchange(own.login(person, scope="openid profile offline_access")
                             ).get_json()["refresh_token"]
    stranger_login = _login_rows(provider, account_id)[0]

    history = browser.get("/account/history").get_data(as_text=True)
    assert f'id="not-me-{stranger_login.id}"' in history and "Firefox trên Windows" in history
    response = post_form(browser, "/account/history", "/account/not-me",
                         event=str(stranger_login.id))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="complaint-number"' in page
    assert "Đổi mật khẩu" in page

    # The stranger's session ended and both its portals were told; its tokens are dead.
    assert sorted(path for path, _ in receiver.wait_for(2)) == ["/a", "/b"]
    assert other_browser.get("/account").status_code == 302
    for portal, token in zip((offline_portal, session_portal), stolen, strict=True):
        refused = _refresh(other_browser, portal, token)
        assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_grant"
    # The owner's own session and token live on; the console asks for a new password.
    assert _refresh(browser, offline_portal, own_token).status_code == 200
    home = browser.get("/account").get_data(as_text=True)
    assert 'id="change-password-asked"' in home
    history = browser.get("/account/history").get_data(as_text=True)
    assert f'id="reported-{stranger_login.id}"' in history

    with provider.db.sessions() as session:
        [complaint] = session.scalars(select(Complaint)).all()
        assert (complaint.kind, complaint.account_id, complaint.event_id) == (
            "not_me", account_id, stranger_login.id)
        assert complaint.event["device"] == "Firefox trên Windows"
        assert complaint.event["portal"] == "Cổng portal-a" and complaint.phone == person.phone
        [audit] = session.scalars(select(AuditEvent).where(
            AuditEvent.event == "login.not_me")).all()
        assert audit.detail["sessions_ended"] == 1 and audit.detail["revoked_families"] == 2

    # Reported once: pressing it again files nothing more.
    again = post_form(browser, "/account/history", "/account/not-me",
                      event=str(stranger_login.id))
    assert "trước đó" in again.get_data(as_text=True)
    with provider.db.sessions() as session:
        assert len(session.scalars(select(Complaint)).all()) == 1


def test_not_me_refuses_another_accounts_login(browser, other_browser, settings, make_account,
                                               make_portal, provider):
    _, owner = make_account(make_person(1))
    other_id, other = make_account(make_person(2))
    portal = make_portal()
    Flow(other_browser, settings, portal).login(other)
    Flow(browser, settings, portal).login(owner)
    [foreign] = _login_rows(provider, other_id)
    response = post_form(browser, "/account/history", "/account/not-me", event=str(foreign.id))
    assert response.status_code == 303
    assert other_browser.get("/account").status_code == 200
    with provider.db.sessions() as session:
        assert session.scalars(select(Complaint)).all() == []


def _notices(settings, phone):
    return [m["text"] for m in read_otps(settings)
            if m["to"] == phone and "thiết bị mới" in m["text"]]


def test_notice_once_per_new_browser(browser, other_browser, settings, make_account,
                                     make_portal):
    _, person = make_account()
    portal = make_portal()
    Flow(browser, settings, portal).login(person)
    [notice] = _notices(settings, person.phone)
    assert "/account/history" in notice and "/account/not-me/" in notice
    # The same browser again, after logging out: a browser it knows, no notice.
    post_form(browser, "/account", "/account/logout")
    Flow(browser, settings, portal).login(person)
    assert len(_notices(settings, person.phone)) == 1
    # Another browser is new.
    Flow(other_browser, settings, portal).login(person)
    assert len(_notices(settings, person.phone)) == 2


def test_notice_link_reports_that_login_only_after_confirming(app, browser, other_browser,
                                                              settings, make_account,
                                                              make_portal, provider):
    account_id, person = make_account()
    portal = make_portal()
    Flow(browser, settings, portal).login(person)  # the owner
    Flow(other_browser, settings, portal).login(person)  # the stranger
    link = re.search(r"https://\S+/account/not-me/\S+", _notices(settings, person.phone)[-1])
    path = link.group(0).split("sso.test", 1)[1]
    phone_browser = app.test_client()  # where the owner reads the SMS: not logged in
    page = phone_browser.get(path)
    assert page.status_code == 200 and 'id="login-summary"' in page.get_data(as_text=True)
    assert other_browser.get("/account").status_code == 200  # opening the link did nothing

    done = phone_browser.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert done.status_code == 200 and 'id="complaint-number"' in done.get_data(as_text=True)
    assert other_browser.get("/account").status_code == 302
    assert browser.get("/account").status_code == 200  # the owner's own session stays
    with provider.db.sessions() as session:
        [complaint] = session.scalars(select(Complaint)).all()
        assert complaint.event_id == _login_rows(provider, account_id)[1].id

    forged = phone_browser.get(path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"))
    assert forged.status_code == 400
