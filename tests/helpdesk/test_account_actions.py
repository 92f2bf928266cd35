"""Search, the masked account view, unlock, suspend/reactivate and complaints, each with its
audit row; a suspended citizen cannot log in, an unlocked one can."""

from __future__ import annotations

import re

import pytest

from idp.sessions import account_sessions
from idp.store.models import Account, Complaint
from tests.conftest import Flow, csrf_from, make_person, query
from tests.helpdesk.conftest import audit_rows
from vnid.person import mask_cccd, mask_phone

REJECTED = "Số định danh hoặc mật khẩu không đúng"


def citizen_password_step(flow, person):
    response, *_ = flow.authorize()
    location = response.headers["Location"]
    return flow.submit_password(location, person.cccd, person.password), query(location)["tx"]


def test_search_is_exact_and_audited(console, provider, make_account):
    account_id, person = make_account()
    page = console("helpdesk")
    response = page.post("/helpdesk/search", cccd=person.cccd)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/helpdesk/accounts/{account_id}")
    missing = page.post("/helpdesk/search", cccd=make_person(99).cccd)
    assert missing.status_code == 404 and "Không tìm thấy" in missing.get_data(as_text=True)
    partial = page.post("/helpdesk/search", cccd=person.cccd[:6])
    assert partial.status_code == 400
    rows = audit_rows(provider, "staff.search")
    assert [(r.result, r.account_id) for r in rows] == [("success", account_id),
                                                        ("not_found", None)]
    assert rows[0].detail["cccd"] == mask_cccd(person.cccd)
    assert all(person.cccd not in str(r.detail) for r in rows)


def test_account_view_is_masked(console, provider, make_account, app):
    account_id, person = make_account(extra_phones=["+84987000222"])
    html = console("helpdesk").get(f"/helpdesk/accounts/{account_id}").get_data(as_text=True)
    assert mask_cccd(person.cccd) in html and person.full_name in html
    with app.app_context():
        account = provider.db.session.get(Account, account_id)
        secrets_ = [person.cccd, person.phone, "+84987000222", account.password_hash,
                    person.password, "argon2"]
    for value in secrets_:
        assert value not in html
    assert f"{mask_phone(person.phone)} (mặc định)" in html
    assert mask_phone("+84987000222") in html
    assert 'id="events"' in html
    [row] = audit_rows(provider, "staff.view_account")
    assert row.account_id == account_id


def test_unlock_lets_the_citizen_log_in_again(console, provider, flow, make_account, settings,
                                              app):
    from idp.login.throttle import CITIZENS

    account_id, person = make_account()
    with app.test_request_context("/login"):  # a stranger's failures from unknown browsers
        for _ in range(provider.limits.amount("login.failures.cccd")):
            CITIZENS.record_failure(person.cccd, "203.0.113.9")
    response, _ = citizen_password_step(flow, person)
    assert response.status_code == 429
    page = console("helpdesk")
    assert 'id="locked"' in page.get(f"/helpdesk/accounts/{account_id}").get_data(as_text=True)
    assert page.post(f"/helpdesk/accounts/{account_id}/unlock",
                     reason="Công dân xác minh qua tổng đài").status_code == 303
    with app.app_context():
        assert not CITIZENS.paused(person.cccd)
        assert CITIZENS.failures_counted(person.cccd) == 0
    flow.login(person)
    [row] = audit_rows(provider, "staff.unlock")
    assert (row.actor, row.actor_role, row.account_id) == (page.user.actor, "helpdesk",
                                                           account_id)
    assert row.detail["reason"] == "Công dân xác minh qua tổng đài"
    assert row.detail["was_locked"] is True


def test_unlock_needs_a_reason(console, provider, make_account):
    account_id, _ = make_account()
    response = console("helpdesk").post(f"/helpdesk/accounts/{account_id}/unlock", reason="")
    assert response.status_code == 400 and "lý do" in response.get_data(as_text=True)
    assert audit_rows(provider, "staff.unlock") == []


def test_suspend_ends_sessions_and_blocks_login(console, provider, flow, make_account, app):
    account_id, person = make_account()
    flow.login(person)
    page = console("supervisor")
    assert page.post(f"/helpdesk/accounts/{account_id}/suspend",
                     reason="Nghi bị chiếm đoạt").status_code == 303
    with app.app_context():
        assert account_sessions(account_id) == []
        assert provider.db.session.get(Account, account_id).status == "suspended"
    response, _ = citizen_password_step(flow, person)
    assert response.status_code == 401 and REJECTED in response.get_data(as_text=True)
    [row] = audit_rows(provider, "staff.suspend")
    assert (row.actor_role, row.detail["reason"], row.detail["sessions_ended"]) == (
        "supervisor", "Nghi bị chiếm đoạt", 1)
    # Suspending twice is refused; reactivating lets the citizen in again.
    assert page.post(f"/helpdesk/accounts/{account_id}/suspend",
                     reason="Nghi bị chiếm đoạt").status_code == 400
    assert page.post(f"/helpdesk/accounts/{account_id}/reactivate",
                     reason="Đã xác minh chính chủ").status_code == 303
    provider.state.delete(f"login-fail:{person.cccd}")
    flow.login(person)
    assert len(audit_rows(provider, "staff.reactivate")) == 1


@pytest.fixture
def complaint_id(app, provider, make_account) -> int:
    _, person = make_account()
    with app.app_context():
        row = Complaint(cccd=person.cccd, full_name="Trần Văn Khiếu", phone="+84912000999",
                        description="Tôi chưa từng đăng ký tài khoản này.")
        provider.db.session.add(row)
        provider.db.session.commit()
        return row.id


def test_complaint_is_handled_once(console, provider, complaint_id, app):
    page = console("helpdesk")
    listing = page.get("/helpdesk/complaints").get_data(as_text=True)
    assert f'id="complaint-{complaint_id}"' in listing and "Trần Văn Khiếu" in listing
    assert "001085000000" not in listing and "+84912000999" not in listing
    detail = page.get(f"/helpdesk/complaints/{complaint_id}").get_data(as_text=True)
    assert "Tôi chưa từng đăng ký" in detail and 'id="disputed-account"' in detail
    assert page.post(f"/helpdesk/complaints/{complaint_id}",
                     resolution="Đã liên hệ, khóa tài khoản bị chiếm").status_code == 303
    with app.app_context():
        row = provider.db.session.get(Complaint, complaint_id)
        assert (row.status, row.handled_by) == ("handled", page.user.actor)
        assert row.resolution == "Đã liên hệ, khóa tài khoản bị chiếm" and row.handled_at
    assert f'id="complaint-{complaint_id}"' not in page.get("/helpdesk/complaints").get_data(
        as_text=True)
    again = console("supervisor").post(f"/helpdesk/complaints/{complaint_id}",
                                       resolution="Xử lý lần nữa")
    assert again.status_code == 400 and "đã được xử lý" in again.get_data(as_text=True)
    [audit] = audit_rows(provider, "staff.complaint_handle")
    assert audit.detail["complaint"] == complaint_id and audit.actor == page.user.actor


def test_account_events_read_in_vietnamese_and_vietnam_time(console, provider, make_account,
                                                           app):
    from idp.audit import record_event
    from tests.conftest import table_rows

    account_id, _ = make_account()
    with app.test_request_context("/"):
        record_event("phone.recover", "refused", account_id=account_id, reason="carrier")
    html = console("helpdesk").get(f"/helpdesk/accounts/{account_id}").get_data(as_text=True)
    rows = table_rows(html, "events")
    assert ["Tự đổi số khi mất điện thoại", "Bị từ chối"] in [row[1:3] for row in rows]
    assert "phone.recover refused" not in html and "Thời gian (giờ Việt Nam)" in html
    with app.app_context():
        from sqlalchemy import select

        from idp.store.models import AuditEvent
        from idp.vntime import vietnam_time

        at = provider.db.session.scalars(select(AuditEvent).where(
            AuditEvent.event == "phone.recover")).one().at
    assert vietnam_time(at) in [row[0] for row in rows]  # UTC + 7, not the stored UTC


def test_not_me_report_reaches_the_complaints_with_the_login(console, browser, settings,
                                                             make_account, make_portal,
                                                             provider):
    account_id, person = make_account()
    Flow(browser, settings, make_portal()).login(person)
    [login] = audit_rows(provider, "login", account_id=account_id)
    history = browser.get("/account/history")
    browser.post("/account/not-me", data={
        "csrf_token": csrf_from(history.get_data(as_text=True)), "event": str(login.id)})

    page = console("helpdesk")
    listing = page.get("/helpdesk/complaints").get_data(as_text=True)
    [number] = re.findall(r'id="complaint-(\d+)"', listing)
    assert "Không phải tôi" in listing
    detail = page.get(f"/helpdesk/complaints/{number}").get_data(as_text=True)
    assert 'id="reported-login"' in detail and "Cổng portal-a" in detail
    assert f"Mã sự kiện nhật ký: {login.id}" in detail
    assert f'/helpdesk/accounts/{account_id}"' in detail
