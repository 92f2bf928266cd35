"""The console's reading pages and the ends it offers: login required, identity, history,
sessions ("log out this one", "log out everywhere"), portals and consent revocation."""

from __future__ import annotations

import re

from sqlalchemy import select

from idp.store.models import AuditEvent, Consent
from tests.account.conftest import console_login, post_form
from tests.conftest import Flow, basic, query, table_rows
from tests.functional.test_logout import session_alive


def test_console_requires_login_and_comes_back(browser, settings, make_account):
    _, person = make_account()
    response = browser.get("/account/history")
    assert response.status_code == 302
    assert "/login?" in response.headers["Location"]
    login_page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Tài khoản định danh" in login_page

    console_login(browser, settings, person, "/account/sessions")
    home = browser.get("/account")
    html = home.get_data(as_text=True)
    assert home.status_code == 200
    assert person.full_name in html
    assert "001*******" + person.cccd[-2:] in html and person.cccd not in html
    assert "+84 91*****" in html and person.phone not in html
    assert "Mức 2" in html and "Cơ quan quản lý hệ thống tạo tài khoản" in html


def test_history_lists_logins_at_two_portals(browser, settings, make_account, make_portal):
    _, person = make_account()
    first, second = make_portal("portal-a"), make_portal("portal-b")
    Flow(browser, settings, first).login(person)
    Flow(browser, settings, second).login(person)  # the SSO session answers

    html = browser.get("/account/history").get_data(as_text=True)
    rows = [" | ".join(row) for row in table_rows(html, "history")]
    assert len(rows) == 2, rows
    assert "Cổng portal-b" in rows[0] and "Phiên đăng nhập một lần (SSO)" in rows[0]
    assert "Cổng portal-a" in rows[1] and "Mật khẩu + mã OTP qua SMS" in rows[1]
    assert all("Thành công" in row and "127.0.0.1" in row for row in rows)
    assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}", rows[0])


def test_history_shows_failures_and_pages_by_twenty(app, browser, settings, make_account,
                                                    make_portal):
    from idp.audit import record_event

    account_id, person = make_account()
    portal = make_portal("portal-a")
    with app.test_request_context(headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0; "
                                           "Win64; x64) AppleWebKit/537.36 Chrome/126.0"}):
        for _ in range(24):
            record_event("login", "success", account_id=account_id, client_id=portal.client_id,
                         method="pwd+sms")
        record_event("login.password", "failure", account_id=account_id, reason="bad")
        record_event("login.password", "success", account_id=account_id)  # a step: not listed
    console_login(browser, settings, person)  # one more access (to the console itself)

    first = browser.get("/account/history").get_data(as_text=True)
    assert len(table_rows(first, "history")) == 20
    assert "Trang 1/2 (26 lượt)" in first and 'id="next"' in first
    assert "Tài khoản định danh" in first  # the console login, newest
    assert "Thất bại" in first and "Chrome trên Windows" in first
    second = browser.get("/account/history?page=2").get_data(as_text=True)
    assert len(table_rows(second, "history")) == 6
    assert 'id="prev"' in second and 'id="next"' not in second
    assert browser.get("/account/history?page=99").status_code == 200
    assert browser.get("/account/history?page=abc").status_code == 200


def test_log_out_another_session_then_everywhere(browser, other_browser, settings, make_account,
                                                 make_portal, receiver, provider, app):
    _, person = make_account()
    portal_a = make_portal("portal-a", backchannel_logout_uri=receiver.uri("/a"))
    portal_b = make_portal("portal-b", backchannel_logout_uri=receiver.uri("/b"))
    Flow(browser, settings, portal_a).login(person)
    Flow(other_browser, settings, portal_b).login(person)

    page = browser.get("/account/sessions").get_data(as_text=True)
    handles = re.findall(r'name="session" value="([^"]+)"', page)
    assert len(handles) == 2 and "(phiên này)" in page
    assert "Cổng portal-a" in page and "Cổng portal-b" in page
    sid_cookie = browser.get_cookie("__Host-idp_session", domain="sso.test").value
    assert sid_cookie not in page  # the sid is the cookie: never in HTML
    [other] = [handle for handle in handles if handle != _current_handle(page)]
    response = post_form(browser, "/account/sessions", "/account/sessions/logout",
                         session=other)
    assert response.status_code == 303
    posts = receiver.wait_for(1)
    assert [path for path, _ in posts] == ["/b"]
    assert not session_alive(Flow(other_browser, settings, portal_b))
    assert session_alive(Flow(browser, settings, portal_a))

    response = post_form(browser, "/account/sessions", "/account/sessions/logout-all")
    assert response.status_code == 200
    assert "đăng xuất khỏi tất cả" in response.get_data(as_text=True)
    assert "__Host-idp_session=;" in response.headers["Set-Cookie"]
    assert [path for path, _ in receiver.wait_for(2)] == ["/b", "/a"]
    assert browser.get("/account").status_code == 302
    with provider.db.sessions() as session:
        scopes = [row.detail.get("scope") for row in session.scalars(
            select(AuditEvent).where(AuditEvent.event == "logout"))]
    assert scopes == ["one", "all"]


def _current_handle(page: str) -> str:
    row = next(row for row in page.split("<tr") if "(phiên này)" in row)
    return re.search(r'name="session" value="([^"]+)"', row).group(1)


def test_revoked_consent_is_asked_again_and_its_refresh_token_is_dead(
        browser, settings, make_account, make_portal, provider):
    account_id, person = make_account()
    portal = make_portal("portal-a")
    flow = Flow(browser, settings, portal)
    tokens = flow.exchange(flow.login(person, scope="openid profile offline_access")).get_json()

    page = browser.get("/account/portals").get_data(as_text=True)
    assert "Cổng portal-a" in page and "Họ tên, ngày sinh, giới tính" in page
    response = post_form(browser, "/account/portals", "/account/portals/revoke",
                         client_id=portal.client_id)
    assert response.status_code == 303
    assert "Bạn chưa cho phép" in browser.get(response.headers["Location"]).get_data(as_text=True)
    with provider.db.sessions() as session:
        assert session.scalars(select(Consent).where(Consent.account_id == account_id)).all() == []

    refreshed = browser.post("/token", data={"grant_type": "refresh_token",
                                             "refresh_token": tokens["refresh_token"]},
                             headers={"Authorization": basic(portal)})
    assert refreshed.status_code == 400 and refreshed.get_json()["error"] == "invalid_grant"
    response, *_ = flow.authorize()
    assert "/consent?" in response.headers["Location"]
    assert query(response.headers["Location"])["tx"]
