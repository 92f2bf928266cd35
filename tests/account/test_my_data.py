""""Tải về dữ liệu của tôi": everything held about the account, after a fresh login."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from idp.store.models import (
    Account,
    AccountCertificate,
    AuditEvent,
    IdentityEvidence,
    IdentityShare,
)
from tests.account.conftest import age_authentication, post_form
from tests.conftest import Flow


def _everything(app, provider, account_id: int) -> None:
    """What registration, the console and the sharing pages would have added."""
    now = datetime.now(UTC)
    with app.app_context():
        session = provider.db.session
        account = session.get(Account, account_id)
        account.email, account.email_verified = "an0@example.vn", True
        session.add_all([
            IdentityEvidence(account_id=account_id, method="counter",
                             organization="Bộ phận một cửa phường Bến Nghé", staff="mot-cua",
                             document="cccd_card"),
            AccountCertificate(account_id=account_id, sha256_fingerprint="ab" * 32,
                               serial_hex="0a1b2c", issuer="CN=VNPT-CA",
                               common_name="NGUYỄN VĂN AN", cccd=account.cccd,
                               not_after=now + timedelta(days=365)),
            IdentityShare(account_id=account_id, code_digest="cd" * 32, code_sealed="sealed",
                          items=["full_name", "birthdate"], note="cho ngân hàng", one_time=True,
                          expires_at=now + timedelta(hours=1), status_list=1, status_index=7),
        ])
        session.commit()


def test_download_holds_every_item_and_is_audited(app, browser, other_browser, settings,
                                                  make_account, make_portal, provider):
    account_id, person = make_account(extra_phones=("+84987654321",))
    _everything(app, provider, account_id)
    portal = make_portal()
    Flow(other_browser, settings, portal).login(person, scope="openid profile offline_access")
    Flow(browser, settings, portal).login(person)
    with provider.db.sessions() as session:
        stranger_login = session.scalars(select(AuditEvent.id).where(
            AuditEvent.event == "login").order_by(AuditEvent.id)).first()
    post_form(browser, "/account/history", "/account/not-me", event=str(stranger_login))

    response = browser.get("/account/data.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))
    assert data["identity"]["cccd"] == person.cccd
    assert data["identity"]["full_name"] == person.full_name
    assert "password_hash" not in json.dumps(data) and data["identity"]["password_set"]
    assert data["verification"]["evidence"][0]["organization"].startswith("Bộ phận một cửa")
    assert [p["phone"] for p in data["phones"]] == [person.phone, "+84987654321"]
    assert data["emails"] == [{"email": "an0@example.vn", "verified": True}]
    assert data["certificates"][0]["issuer"] == "CN=VNPT-CA"
    assert data["consents"][0]["client_id"] == "portal-a"
    assert len(data["sessions"]) == 1  # the stranger's ended with "Không phải tôi"
    events = [row["event"] for row in data["history"]]
    assert {"login", "login.not_me", "account.export"} <= set(events)
    assert data["qr_shares"][0]["items"] == ["full_name", "birthdate"]
    assert data["complaints"][0]["kind"] == "not_me"

    page = browser.get("/account/data").get_data(as_text=True)
    for section in ("data-identity", "data-contacts", "data-certificates", "data-consents",
                    "data-sessions", "data-history", "data-shares", "data-complaints"):
        assert f'id="{section}"' in page
    assert "Bộ phận một cửa phường Bến Nghé" in page and person.cccd in page
    with provider.db.sessions() as session:
        exports = session.scalars(select(AuditEvent).where(
            AuditEvent.event == "account.export")).all()
    assert [row.detail["format"] for row in exports] == ["json", "html"]


def test_download_needs_a_login_of_the_last_five_minutes(app, browser, settings, make_account,
                                                         make_portal, provider):
    _, person = make_account()
    Flow(browser, settings, make_portal()).login(person)
    age_authentication(app, browser, 6 * 60)
    response = browser.get("/account/data.json")
    page = response.get_data(as_text=True)
    assert response.mimetype == "text/html" and 'id="reauth"' in page and "5 phút" in page
    with provider.db.sessions() as session:
        assert session.scalars(select(AuditEvent).where(
            AuditEvent.event == "account.export")).all() == []
