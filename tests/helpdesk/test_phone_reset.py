"""Staff reset of the OTP phone: evidence, OTP on the new phone, carrier check, dual control,
notice to the old phone, sessions ended, and one open reset per account even under races."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from idp.helpdesk.auth import StaffContext
from idp.helpdesk.resets import BUSY, SAME_STAFF, ResetBusy, start_reset
from idp.sessions import account_sessions
from idp.store.models import Account, PhoneResetRequest, StaffMember
from tests.conftest import Flow, last_otp, read_otps
from tests.helpdesk.conftest import FIXTURES, OLD_PHONE, audit_rows, citizen, restart_carrier

UNKNOWN_PHONE = FIXTURES.unknown_phones[0]
REASON = "Công dân bị mất điện thoại"


def form(person, phone: str, **overrides) -> dict:
    values = {"reason": REASON, "evidence_type": "cccd", "evidence_number": person.cccd,
              "new_phone": phone}
    values.update(overrides)
    return values


def phones(provider, account_id: int) -> list[tuple[str, bool]]:
    with provider.db.sessions() as session:
        account = session.get(Account, account_id)
        return [(p.phone, p.is_default) for p in account.phones]


def resets(provider, account_id: int) -> list[PhoneResetRequest]:
    with provider.db.sessions() as session:
        return list(session.scalars(select(PhoneResetRequest).where(
            PhoneResetRequest.account_id == account_id).order_by(PhoneResetRequest.id)))


def begin(page, account_id: int, person, phone: str, **overrides):
    return page.post(f"/helpdesk/accounts/{account_id}/reset-phone", follow=True,
                     **form(person, phone, **overrides))


def sms_to(settings, phone: str) -> list[str]:
    return [m["text"] for m in read_otps(settings) if m["to"] == phone]


@pytest.fixture
def holder(make_account, carrier_person):
    """A citizen (known to the carrier) whose account still has the lost phone."""
    account_id, person = make_account(citizen(carrier_person))
    return account_id, person


def test_carrier_confirmed_reset_changes_the_phone(console, provider, settings, holder, app,
                                                   browser, make_portal):
    account_id, person = holder
    new_phone = FIXTURES.one("carrier: full match").phone
    Flow(browser, settings, make_portal()).login(person)  # the citizen has a live session
    with app.app_context():
        assert len(account_sessions(account_id)) == 1

    page = console("helpdesk")
    assert page.get(f"/helpdesk/accounts/{account_id}/reset-phone").status_code == 200
    response = begin(page, account_id, person, new_phone)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="otp"' in html, html
    assert person.cccd not in html  # the CCCD typed as evidence is shown masked
    [reset] = resets(provider, account_id)
    assert reset.status == "awaiting_otp" and reset.evidence_number == person.cccd

    response = page.post(f"/helpdesk/resets/{reset.id}/otp", otp=last_otp(settings, new_phone),
                         follow=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-status="done"' in html, html
    assert phones(provider, account_id) == [(new_phone, True)]
    [notice] = sms_to(settings, OLD_PHONE)[-1:]
    assert "đã được đổi sang số" in notice and new_phone not in notice
    with app.app_context():
        assert account_sessions(account_id) == []
    [reset] = resets(provider, account_id)
    assert reset.status == "done" and reset.carrier_confirmed is True and reset.decided_at

    # Every step audited with who, role, account, reason and the (masked) evidence.
    for event in ("staff.phone_reset.start", "staff.phone_reset.otp",
                  "staff.phone_reset.carrier", "phone.change"):
        [row] = audit_rows(provider, event)
        assert (row.result, row.actor, row.actor_role, row.account_id) == (
            "success", page.user.actor, "helpdesk", account_id), event
        assert row.detail["reason"] == REASON and row.detail["evidence_type"] == "cccd"
        assert row.detail["evidence_number"].startswith(person.cccd[:3])
        assert person.cccd not in str(row.detail) and row.ip
    change = audit_rows(provider, "phone.change")[0]
    assert change.detail["old_phone_notified"] is True and change.detail["sessions_ended"] == 1


def test_carrier_refusal_needs_another_supervisor(console, provider, settings, holder):
    account_id, person = holder
    requester = console("supervisor")
    begin(requester, account_id, person, UNKNOWN_PHONE)
    [reset] = resets(provider, account_id)
    response = requester.post(f"/helpdesk/resets/{reset.id}/otp",
                              otp=last_otp(settings, UNKNOWN_PHONE), follow=True)
    html = response.get_data(as_text=True)
    assert 'data-status="awaiting_approval"' in html and 'id="waiting"' in html
    # A setback, not a success: a warning box, and the requester is told to find another.
    message = re.search(r'<p class="alert ([a-z-]+)" role="status" id="message">([^<]+)', html)
    assert message.group(1) == "alert-warning"
    assert "cần một cán bộ giám sát khác phê duyệt" in message.group(2)
    assert phones(provider, account_id) == [(OLD_PHONE, True)]
    assert audit_rows(provider, "staff.phone_reset.carrier")[0].result == "failure"

    # The requester cannot approve their own request, even as a supervisor.
    response = requester.post(f"/helpdesk/resets/{reset.id}/approve")
    assert response.status_code == 409 and SAME_STAFF in response.get_data(as_text=True)
    [refused] = audit_rows(provider, "staff.phone_reset.approve")
    assert refused.result == "refused" and refused.actor == requester.user.actor
    # A helpdesk-role member cannot approve at all.
    helpdesk = console("helpdesk")
    assert helpdesk.post(f"/helpdesk/resets/{reset.id}/approve").status_code == 403
    assert audit_rows(provider, "staff.denied")[-1].actor == helpdesk.user.actor
    assert phones(provider, account_id) == [(OLD_PHONE, True)]
    assert sms_to(settings, OLD_PHONE) == []

    # Another supervisor can.
    approver = console("supervisor")
    page = approver.get(f"/helpdesk/resets/{reset.id}?m=awaiting_approval").get_data(
        as_text=True)
    assert 'id="approve"' in page
    assert "đang chờ bạn phê duyệt" in page and "cán bộ giám sát khác" not in page
    assert approver.post(f"/helpdesk/resets/{reset.id}/approve").status_code == 303
    assert phones(provider, account_id) == [(UNKNOWN_PHONE, True)]
    assert "đã được đổi sang số" in sms_to(settings, OLD_PHONE)[-1]
    [reset] = resets(provider, account_id)
    with provider.db.sessions() as session:
        assert session.get(StaffMember, reset.approved_by).username == approver.user.username
    assert reset.status == "done" and reset.carrier_confirmed is False
    ok = audit_rows(provider, "staff.phone_reset.approve", result="success")
    assert [(r.actor, r.actor_role) for r in ok] == [(approver.user.actor, "supervisor")]
    assert ok[0].detail["reason"] == REASON
    # A second approval (double click) changes nothing more.
    assert approver.post(f"/helpdesk/resets/{reset.id}/approve").status_code == 409


def test_supervisor_rejects(console, provider, settings, holder):
    account_id, person = holder
    requester = console("helpdesk")
    begin(requester, account_id, person, UNKNOWN_PHONE)
    [reset] = resets(provider, account_id)
    requester.post(f"/helpdesk/resets/{reset.id}/otp", otp=last_otp(settings, UNKNOWN_PHONE))
    supervisor = console("supervisor")
    assert supervisor.post(f"/helpdesk/resets/{reset.id}/reject",
                           reason="Giấy tờ không rõ ràng").status_code == 303
    assert resets(provider, account_id)[0].status == "rejected"
    assert phones(provider, account_id) == [(OLD_PHONE, True)]
    [row] = audit_rows(provider, "staff.phone_reset.reject")
    assert row.detail["decision_reason"] == "Giấy tờ không rõ ràng"
    assert supervisor.post(f"/helpdesk/resets/{reset.id}/approve").status_code == 409


@pytest.mark.parametrize(("overrides", "message"), [
    ({"evidence_number": "001099000001"}, "không khớp với số định danh"),
    ({"evidence_type": "bang-lai"}, "chọn loại giấy tờ"),
    ({"evidence_number": "12"}, "6 đến 20"),
    ({"reason": ""}, "lý do"),
    ({"new_phone": "0241234567"}, "không hợp lệ"),
    ({"new_phone": OLD_PHONE}, "trùng với số đang nhận OTP"),
])
def test_bad_request_changes_nothing(console, provider, settings, holder, overrides, message):
    account_id, person = holder
    page = console("registrar")
    response = begin(page, account_id, person, UNKNOWN_PHONE, **overrides)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert resets(provider, account_id) == [] and read_otps(settings) == []


def test_wrong_codes_cancel_the_request(console, provider, settings, holder):
    account_id, person = holder
    page = console("helpdesk")
    begin(page, account_id, person, UNKNOWN_PHONE)
    [reset] = resets(provider, account_id)
    code = last_otp(settings, UNKNOWN_PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        response = page.post(f"/helpdesk/resets/{reset.id}/otp", otp=wrong)
        assert "Mã OTP không đúng" in response.get_data(as_text=True)
    response = page.post(f"/helpdesk/resets/{reset.id}/otp", otp=wrong)
    assert "quá số lần" in response.get_data(as_text=True)
    assert resets(provider, account_id)[0].status == "cancelled"
    assert page.post(f"/helpdesk/resets/{reset.id}/otp", otp=code).status_code == 409
    assert phones(provider, account_id) == [(OLD_PHONE, True)]
    # A new request can start.
    assert begin(page, account_id, person, UNKNOWN_PHONE).status_code == 200


def test_only_the_requester_types_the_code_and_may_cancel(console, provider, settings, holder):
    account_id, person = holder
    requester, other = console("helpdesk"), console("helpdesk")
    begin(requester, account_id, person, UNKNOWN_PHONE)
    [reset] = resets(provider, account_id)
    response = other.post(f"/helpdesk/resets/{reset.id}/otp",
                          otp=last_otp(settings, UNKNOWN_PHONE))
    assert response.status_code == 409 and "Chỉ cán bộ tạo yêu cầu" in response.get_data(
        as_text=True)
    assert other.post(f"/helpdesk/resets/{reset.id}/cancel").status_code == 403
    assert requester.post(f"/helpdesk/resets/{reset.id}/cancel").status_code == 303
    assert resets(provider, account_id)[0].status == "cancelled"
    assert audit_rows(provider, "staff.phone_reset.cancel")[0].actor == requester.user.actor


def test_a_second_reset_waits_for_the_first(console, provider, settings, holder):
    account_id, person = holder
    first, second = console("helpdesk"), console("registrar")
    assert begin(first, account_id, person, UNKNOWN_PHONE).status_code == 200
    response = begin(second, account_id, person, FIXTURES.unknown_phones[1])
    assert response.status_code == 409 and BUSY in response.get_data(as_text=True)
    assert len(resets(provider, account_id)) == 1
    refused = audit_rows(provider, "staff.phone_reset.start", result="refused")
    assert [r.actor for r in refused] == [second.user.actor]


def test_an_abandoned_code_step_does_not_block_for_ever(console, provider, settings, holder):
    account_id, person = holder
    page = console("helpdesk")
    begin(page, account_id, person, UNKNOWN_PHONE)
    with provider.db.begin() as session:
        [reset] = session.scalars(select(PhoneResetRequest)).all()
        reset.created_at -= timedelta(seconds=settings.session.transaction_ttl + 1)
    assert begin(page, account_id, person, FIXTURES.unknown_phones[1]).status_code == 200
    assert [r.status for r in resets(provider, account_id)] == ["cancelled", "awaiting_otp"]


def test_concurrent_resets_cannot_both_win(app, provider, holder, make_staff):
    account_id, person = holder
    members = [make_staff("helpdesk") for _ in range(4)]
    barrier = threading.Barrier(len(members))
    outcomes: list[str] = []

    def attempt(member, phone):
        with app.test_request_context("/helpdesk"):
            session = provider.db.session
            staff = StaffContext.of(session.get(StaffMember, member.id))
            account = session.get(Account, account_id)
            barrier.wait()
            try:
                start_reset(session, staff, account, new_phone=phone, reason=REASON,
                            evidence_type="cccd", evidence_number=person.cccd)
                outcomes.append("stored")
            except ResetBusy:
                outcomes.append("busy")

    threads = [threading.Thread(target=attempt, args=(member, phone))
               for member, phone in zip(members, FIXTURES.unknown_phones, strict=False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["busy", "busy", "busy", "stored"]
    assert [r.status for r in resets(provider, account_id)] == ["awaiting_otp"]


def test_concurrent_requests_through_http(console, provider, holder):
    account_id, person = holder
    pages = [console("helpdesk"), console("supervisor")]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def attempt(page, phone):
        barrier.wait()
        statuses.append(begin(page, account_id, person, phone).status_code)

    threads = [threading.Thread(target=attempt, args=(page, phone))
               for page, phone in zip(pages, FIXTURES.unknown_phones, strict=False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    assert len(resets(provider, account_id)) == 1


def test_carrier_outage_is_retried_not_refused(console, provider, settings, make_account,
                                               carrier_person, own_carrier):
    account_id, person = make_account(citizen(carrier_person))
    page = console("helpdesk")
    begin(page, account_id, person, carrier_person.phone)
    [reset] = resets(provider, account_id)
    own_carrier.sim.stop()
    own_carrier.sim = None
    response = page.post(f"/helpdesk/resets/{reset.id}/otp",
                         otp=last_otp(settings, carrier_person.phone))
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "tạm thời không phản hồi" in html
    assert 'id="carrier-retry"' in html
    assert resets(provider, account_id)[0].status == "awaiting_otp"
    assert audit_rows(provider, "staff.phone_reset.carrier")[0].result == "error"

    restart_carrier(own_carrier)
    # The page offers the retry (the code was right), also when reloaded.
    assert 'id="carrier-retry"' in page.get(f"/helpdesk/resets/{reset.id}").get_data(
        as_text=True)
    response = page.post(f"/helpdesk/resets/{reset.id}/carrier", follow=True)
    assert 'data-status="done"' in response.get_data(as_text=True)
    assert phones(provider, account_id) == [(carrier_person.phone, True)]
