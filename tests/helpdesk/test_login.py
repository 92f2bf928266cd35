"""Staff login needs the password AND a TOTP code; sessions are separate from citizens'."""

from __future__ import annotations

import pyotp
import pytest

from idp.helpdesk.auth import LIFETIME, STAFF_COOKIE
from tests.helpdesk.conftest import Console, audit_rows

REJECTED = "Tên đăng nhập, mật khẩu hoặc mã xác thực không đúng"


def test_password_and_totp_open_the_console(app, provider, make_staff):
    user = make_staff("helpdesk")
    page = Console(app, user)
    first = page.start()
    assert first.status_code == 303 and first.headers["Location"].endswith("/helpdesk/login/totp")
    # The password alone opens nothing.
    assert page.get("/helpdesk/").status_code == 303
    second = page.totp()
    assert second.status_code == 303
    [cookie] = [c for c in second.headers.getlist("Set-Cookie")
                if c.startswith(f"{STAFF_COOKIE}=")]
    for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/helpdesk"):
        assert flag in cookie
    home = page.get("/helpdesk/")
    assert home.status_code == 200 and user.username in home.get_data(as_text=True)
    [row] = audit_rows(provider, "staff.login", result="success")
    assert row.actor == user.actor and row.actor_role == "helpdesk"


def test_wrong_password_is_refused(app, provider, make_staff):
    user = make_staff("helpdesk")
    page = Console(app, user)
    response = page.start(password="Sai-Mat-Khau#2025x")
    assert response.status_code == 401 and REJECTED in response.get_data(as_text=True)
    assert page.totp().status_code == 303  # back to the login: no TOTP step was opened
    assert page.get("/helpdesk/").status_code == 303
    [row] = audit_rows(provider, "staff.login")
    assert row.result == "failure" and row.detail["step"] == "password"


def test_unknown_user_gets_the_same_answer(app, provider, make_staff):
    user = make_staff("helpdesk")
    user.username = "khong.ton.tai"
    response = Console(app, user).start()
    assert response.status_code == 401 and REJECTED in response.get_data(as_text=True)


def test_wrong_totp_is_refused(app, provider, make_staff):
    user = make_staff("helpdesk")
    page = Console(app, user)
    assert page.start().status_code == 303
    good = pyotp.TOTP(user.secret).now()
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    response = page.totp(wrong)
    assert response.status_code == 401 and REJECTED in response.get_data(as_text=True)
    assert page.get("/helpdesk/").status_code == 303
    assert page.totp().status_code == 303  # the right code still works after one slip
    assert page.get("/helpdesk/").status_code == 200


def test_replayed_totp_is_refused(app, provider, make_staff):
    user = make_staff("helpdesk")
    first = Console(app, user)
    first.start()
    code = user.fresh_code()
    assert first.totp(code).status_code == 303
    second = Console(app, user)
    second.start()
    response = second.totp(code)
    assert response.status_code == 401
    assert second.get("/helpdesk/").status_code == 303
    assert audit_rows(provider, "staff.login", result="failure")[-1].detail["reason"] == (
        "totp_replayed")


def test_disabled_staff_is_refused_and_logged_out(app, provider, make_staff, console):
    user = make_staff("helpdesk")
    page = Console(app, user).login()
    admin = console("admin")
    assert admin.post(f"/helpdesk/staff/{user.id}/status", active="0").status_code == 303
    # The open session stops at the next request; a new login is refused.
    assert page.get("/helpdesk/").status_code == 303
    response = Console(app, user).start()
    assert response.status_code == 401
    assert audit_rows(provider, "staff.login")[-1].detail["reason"] == "staff_disabled"


def skip_the_wait(provider, username: str) -> None:
    provider.state.delete(provider.limits.state_key("last-fail", "staff", username))


def test_repeated_failures_pause_the_username(app, provider, settings, make_staff):
    user = make_staff("helpdesk")
    page = Console(app, user)
    for _ in range(provider.limits.amount("staff.failures.username")):
        skip_the_wait(provider, user.username)
        assert page.start(password="Sai-Mat-Khau#2025x").status_code == 401
    # Even the right password is not checked while paused, and the page says so.
    response = page.start()
    assert response.status_code == 429
    assert "tạm dừng đến" in response.get_data(as_text=True)
    assert audit_rows(provider, "staff.login")[-1].detail["reason"] == "paused"


def test_a_strangers_failures_never_pause_the_members_own_browser(app, provider, make_staff):
    user = make_staff("helpdesk")
    own = Console(app, user)
    own.start()
    assert own.totp().status_code == 303  # a complete login: this browser is now known
    stranger = Console(app, user)
    for _ in range(provider.limits.amount("staff.failures.username")):
        skip_the_wait(provider, user.username)
        stranger.start(password="Sai-Mat-Khau#2025x")
    assert stranger.start().status_code == 429
    own.post("/helpdesk/logout")
    assert own.start().status_code == 303


def test_five_wrong_codes_end_the_attempt(app, provider, make_staff):
    user = make_staff("helpdesk")
    page = Console(app, user)
    page.start()
    for _ in range(5):
        skip_the_wait(provider, user.username)
        page.totp("000000" if pyotp.TOTP(user.secret).now() != "000000" else "111111")
    assert page.totp().status_code == 303
    assert page.get("/helpdesk/").status_code == 303  # had to start again


def test_logout_ends_the_session(console, provider):
    page = console("auditor")
    sid = page.client.get_cookie(STAFF_COOKIE, domain="sso.test", path="/helpdesk").value
    assert page.post("/helpdesk/logout").status_code == 303
    assert page.get("/helpdesk/").status_code == 303
    assert provider.state.get(f"staff-session:{sid}") is None
    assert audit_rows(provider, "staff.logout")[0].actor == page.user.actor


def test_session_has_an_absolute_lifetime(console, provider):
    page = console("auditor")
    sid = page.client.get_cookie(STAFF_COOKIE, domain="sso.test", path="/helpdesk").value
    record = provider.state.get(f"staff-session:{sid}")
    provider.state.put(f"staff-session:{sid}", {**record, "created": record["created"] - LIFETIME},
                       60)
    assert page.get("/helpdesk/").status_code == 303


@pytest.mark.parametrize("cookie", ["__Host-idp_session", STAFF_COOKIE])
def test_citizen_session_or_forged_cookie_opens_nothing(app, browser, cookie):
    browser.set_cookie(cookie, "x" * 43, domain="sso.test", path="/")
    assert browser.get("/helpdesk/").status_code == 303
    assert browser.get("/helpdesk/audit").status_code == 303
