"""The auditor reads, filters and exports the audit log (CSV without full CCCDs) and
verifies its hash chain: an edited row is reported with its number."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select, update

from idp.audit import record_event
from idp.helpdesk.auditlog import PAGE_SIZE
from idp.store.models import AuditEvent
from tests.conftest import last_otp
from tests.helpdesk.conftest import FIXTURES, audit_rows, citizen

REASON = "Công dân bị mất điện thoại"


def export(page, **filters) -> list[dict]:
    response = page.get("/helpdesk/audit.csv", query_string=filters)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_auditor_sees_the_reset_and_the_refused_override(console, provider, settings,
                                                         make_account, carrier_person):
    account_id, person = make_account(citizen(carrier_person))
    staff = console("supervisor")
    staff.post(f"/helpdesk/accounts/{account_id}/reset-phone", reason=REASON,
               evidence_type="cccd", evidence_number=person.cccd,
               new_phone=FIXTURES.unknown_phones[0])
    reset_id = audit_rows(provider, "staff.phone_reset.start")[0].detail["request"]
    staff.post(f"/helpdesk/resets/{reset_id}/otp",
               otp=last_otp(settings, FIXTURES.unknown_phones[0]))
    assert staff.post(f"/helpdesk/resets/{reset_id}/approve").status_code == 409
    assert console("helpdesk").post(f"/helpdesk/resets/{reset_id}/approve").status_code == 403

    auditor = console("auditor")
    found = auditor.post("/helpdesk/audit/by-cccd", cccd=person.cccd)
    assert found.status_code == 303 and person.cccd not in found.headers["Location"]
    assert found.headers["Location"].endswith(f"/helpdesk/audit?account={account_id}")
    html = auditor.get(found.headers["Location"]).get_data(as_text=True)
    for event in ("staff.phone_reset.start", "staff.phone_reset.carrier",
                  "staff.phone_reset.approve"):
        assert event in html
    assert person.cccd not in html and REASON in html

    rows = export(auditor, event="staff.")
    events = [(r["event"], r["result"], r["actor_role"]) for r in rows]
    assert ("staff.phone_reset.approve", "refused", "supervisor") in events
    assert ("staff.denied", "refused", "helpdesk") in events
    assert ("staff.phone_reset.start", "success", "supervisor") in events
    assert all(r["ip"] for r in rows)
    assert audit_rows(provider, "staff.audit_export")[0].actor == auditor.user.actor


def test_export_never_holds_a_full_cccd(console, provider, make_account):
    account_id, person = make_account()
    # A reason typed with the full number in it still leaves the export masked.
    console("helpdesk").post(f"/helpdesk/accounts/{account_id}/unlock",
                             reason=f"Công dân CCCD {person.cccd} gọi tổng đài")
    with provider.db.sessions() as session:
        assert person.cccd in str(session.scalar(
            select(AuditEvent.detail).where(AuditEvent.event == "staff.unlock")))
    auditor = console("auditor")
    response = auditor.get("/helpdesk/audit.csv")
    text = response.get_data(as_text=True)
    assert "staff.unlock" in text and "staff.view_account" not in text
    assert person.cccd not in text and f"{person.cccd[:3]}*******{person.cccd[-2:]}" in text
    assert person.cccd not in auditor.get("/helpdesk/audit").get_data(as_text=True)


def test_csv_cells_cannot_run_as_formulas(app, console):
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "10.0.0.9"}):
        record_event("test.event", "success", actor="=HYPERLINK(\"http://x\")")
    [row] = [r for r in export(console("auditor")) if r["event"] == "test.event"]
    assert row["actor"].startswith("'=")


def test_filters_and_pages(app, console, make_account):
    first, _ = make_account()
    with app.app_context():
        for n in range(PAGE_SIZE + 5):
            record_event("login.password", "failure", account_id=first, n=n)
        record_event("login.password", "failure", account_id=first + 100)
    auditor = console("auditor")
    page1 = auditor.get("/helpdesk/audit", query_string={"account": first}).get_data(
        as_text=True)
    assert page1.count("<tr><td>") == PAGE_SIZE and 'id="next"' in page1
    page2 = auditor.get("/helpdesk/audit", query_string={"account": first, "page": 2})
    assert 'id="prev"' in page2.get_data(as_text=True)
    rows = export(auditor, account=first, event="login.")
    assert len(rows) == PAGE_SIZE + 5 and {r["account_id"] for r in rows} == {str(first)}
    assert export(auditor, staff=auditor.user.username)[0]["event"] == "staff.login"
    assert auditor.post("/helpdesk/audit/by-cccd", cccd="12").status_code == 400
    assert auditor.get("/helpdesk/audit", query_string={"account": "x"}).status_code == 400


def test_edited_row_is_detected(console, provider, make_account):
    account_id, _ = make_account()
    console("helpdesk").post(f"/helpdesk/accounts/{account_id}/unlock",
                             reason="Công dân gọi tổng đài")
    auditor = console("auditor")
    intact = auditor.post("/helpdesk/audit/verify").get_data(as_text=True)
    assert 'id="chain-intact"' in intact
    [row] = audit_rows(provider, "staff.unlock")
    with provider.db.begin() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == row.id)
                        .values(detail={**row.detail, "reason": "không có gì"}))
    response = auditor.post("/helpdesk/audit/verify")
    html = response.get_data(as_text=True)
    assert f'data-row="{row.id}"' in html and f"gãy tại dòng {row.id}" in html
    assert audit_rows(provider, "staff.audit_verify")[-1].result == "failure"


def test_console_verifies_the_recent_rows_and_says_so(console, provider, make_account,
                                                      monkeypatch):
    from idp.helpdesk import audit_views

    account_id, _ = make_account()
    helpdesk = console("helpdesk")
    for _ in range(3):
        helpdesk.post(f"/helpdesk/accounts/{account_id}/unlock", reason="Công dân gọi tổng đài")
    monkeypatch.setattr(audit_views, "WEB_VERIFY_ROWS", 2)
    html = console("auditor").post("/helpdesk/audit/verify").get_data(as_text=True)
    assert 'id="chain-intact"' in html and 'id="chain-window"' in html
    assert "idp audit verify" in html
    assert audit_rows(provider, "staff.audit_verify")[-1].detail["after_id"] > 0
