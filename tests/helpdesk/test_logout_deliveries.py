"""The admin's page of back-channel logouts still owed to portals: pending and given-up
counts per portal, the last error, and queueing a fixed portal's deliveries again."""

from __future__ import annotations

from idp.oidc.deliveries import attempt_failed, backlog, enqueue
from tests.helpdesk.conftest import audit_rows


def _owe(app, provider, make_portal, client_id: str, count: int, *, give_up: bool) -> None:
    with app.app_context():
        make_portal(client_id, backchannel_logout_uri=f"https://{client_id}.test/bc")
        rows = enqueue(provider.db.engine, [
            {"client_id": client_id, "account_id": None, "jti": f"jti-{client_id}-{n}",
             "subject": "sub", "sid": f"sid-{n}"} for n in range(count)], 3600, 30)
        for row in rows:
            attempt_failed(provider.db.engine, row.id, 1, "HTTP 502", None if give_up else 1e12)


def test_admin_sees_the_backlog_and_queues_a_portal_again(app, provider, make_portal, console):
    _owe(app, provider, make_portal, "cong-tinh", 2, give_up=True)
    _owe(app, provider, make_portal, "cong-bo", 1, give_up=False)
    admin = console("admin")
    html = admin.get("/helpdesk/").get_data(as_text=True)
    assert 'id="nav-deliveries"' in html
    page = admin.get("/helpdesk/backchannel").get_data(as_text=True)
    assert 'id="portal-cong-tinh"' in page and 'id="portal-cong-bo"' in page
    assert '<span class="badge bad">2</span>' in page and "HTTP 502" in page

    response = admin.post("/helpdesk/backchannel/cong-tinh/retry")
    assert response.status_code == 303
    by_portal = {p.client_id: p for p in backlog(provider.db.engine)}
    assert (by_portal["cong-tinh"].pending, by_portal["cong-tinh"].failed) == (2, 0)
    [row] = audit_rows(provider, "staff.backchannel_retry")
    assert row.actor == admin.user.actor and row.client_id == "cong-tinh"
    assert row.detail == {"deliveries": 2}


def test_the_page_says_when_nothing_is_owed(console):
    page = console("admin").get("/helpdesk/backchannel").get_data(as_text=True)
    assert 'id="deliveries-empty"' in page
