"""Each action is allowed for its roles and refused (403 + `staff.denied`) for the others."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from idp.store.models import Complaint, PhoneResetRequest
from tests.helpdesk.conftest import FIXTURES, audit_rows, citizen

ROLES = ("helpdesk", "registrar", "supervisor", "auditor", "admin")
# The matrix, written out here rather than read from the code under test.
ALLOWED = {
    "search": {"helpdesk", "registrar", "supervisor"},
    "view_account": {"helpdesk", "registrar", "supervisor"},
    "reset_phone": {"helpdesk", "registrar", "supervisor"},
    "approve_reset": {"supervisor"},
    "register_citizen": {"registrar"},
    "unlock": {"helpdesk", "supervisor"},
    "suspend": {"supervisor"},
    "complaints": {"helpdesk", "supervisor"},
    "audit_view": {"auditor"},
    "audit_export": {"auditor"},
    "audit_verify": {"auditor"},
    "staff_admin": {"admin"},
    "logout_deliveries": {"admin"},
}
PERMISSION = {"view_account": "search", "audit_view": "audit", "audit_export": "audit",
              "audit_verify": "audit"}


@dataclass
class Target:
    account_id: int
    cccd: str
    reset_id: int
    complaint_id: int


@pytest.fixture
def target(app, provider, make_account, make_staff) -> Target:
    """An account with a reset awaiting approval (by another supervisor) and a complaint."""
    person = FIXTURES.one("carrier: full match")
    account_id, _ = make_account(citizen(person))
    requester = make_staff("supervisor", username="giam.sat.khac")
    with app.app_context():
        session = provider.db.session
        reset = PhoneResetRequest(account_id=account_id, new_phone=FIXTURES.unknown_phones[0],
                                  reason="Mất điện thoại", evidence_type="cccd",
                                  evidence_number=person.cccd, requested_by=requester.id,
                                  carrier_confirmed=False, status="awaiting_approval")
        complaint = Complaint(cccd=person.cccd, full_name="Người Khiếu Nại",
                              phone="+84912000999", description="Tôi không đăng ký tài khoản này.")
        session.add_all([reset, complaint])
        session.commit()
        return Target(account_id, person.cccd, reset.id, complaint.id)


REQUESTS = {
    "search": (lambda c, t: c.post("/helpdesk/search", cccd=t.cccd), 303),
    "view_account": (lambda c, t: c.get(f"/helpdesk/accounts/{t.account_id}"), 200),
    "reset_phone": (lambda c, t: c.get(f"/helpdesk/accounts/{t.account_id}/reset-phone"), 200),
    "approve_reset": (lambda c, t: c.post(f"/helpdesk/resets/{t.reset_id}/approve"), 303),
    "register_citizen": (lambda c, t: c.get("/helpdesk/register"), 200),
    "unlock": (lambda c, t: c.post(f"/helpdesk/accounts/{t.account_id}/unlock",
                                   reason="Công dân gọi tổng đài"), 303),
    "suspend": (lambda c, t: c.post(f"/helpdesk/accounts/{t.account_id}/suspend",
                                    reason="Nghi bị chiếm đoạt"), 303),
    "complaints": (lambda c, t: c.get(f"/helpdesk/complaints/{t.complaint_id}"), 200),
    "audit_view": (lambda c, t: c.get("/helpdesk/audit"), 200),
    "audit_export": (lambda c, t: c.get("/helpdesk/audit.csv"), 200),
    "audit_verify": (lambda c, t: c.post("/helpdesk/audit/verify"), 200),
    "staff_admin": (lambda c, t: c.get("/helpdesk/staff"), 200),
    "logout_deliveries": (lambda c, t: c.get("/helpdesk/backchannel"), 200),
}


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(role, console, provider, target):
    page = console(role)
    for action, (call, ok_status) in REQUESTS.items():
        before = len(audit_rows(provider, "staff.denied"))
        response = call(page, target)
        denied = audit_rows(provider, "staff.denied")[before:]
        if role in ALLOWED[action]:
            assert response.status_code == ok_status, (action, response.get_data(as_text=True))
            assert denied == [], action
        else:
            assert response.status_code == 403, action
            assert "Vai trò của bạn không được phép" in response.get_data(as_text=True)
            [row] = denied
            assert row.actor == page.user.actor and row.actor_role == role
            assert row.detail["needed"] == PERMISSION.get(action, action)


def test_home_shows_only_what_the_role_may_use(console):
    html = console("auditor").get("/helpdesk/").get_data(as_text=True)
    assert 'id="nav-audit"' in html and 'name="cccd"' not in html
    assert 'id="nav-staff"' not in html and 'id="nav-register"' not in html
    html = console("registrar").get("/helpdesk/").get_data(as_text=True)
    assert 'id="nav-register"' in html and 'name="cccd"' in html and 'id="nav-audit"' not in html


def test_a_member_with_two_roles_acts_in_the_granting_one(console, provider, target):
    page = console("auditor", "helpdesk")
    assert page.post(f"/helpdesk/accounts/{target.account_id}/unlock",
                     reason="Công dân gọi tổng đài").status_code == 303
    [row] = audit_rows(provider, "staff.unlock")
    assert row.actor_role == "helpdesk"
