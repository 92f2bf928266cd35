"""The console's USB tokens: adding one raises a level-2 account to IAL 3; a renewed
certificate is recorded; a removed one no longer logs in; the last way in stays."""

from __future__ import annotations

from idp.certificates.bindings import LAST_CERTIFICATE
from idp.certificates.refusals import MESSAGES_VI
from idp.store.models import Account
from tests.account.conftest import console_login
from tests.conftest import csrf_from, make_person, query
from tests.usbtoken.conftest import (
    CITIZEN_BIRTHDATE,
    CITIZEN_CCCD,
    LEVEL_3,
    audit_rows,
    id_claims,
    page_error,
    to_portal,
)


def _add_token(signer, name: str, **options):
    return signer.submit("/account/usb", "/account/usb", "account", "", name, **options)


def _account(app, provider, account_id: int) -> Account:
    with app.app_context():
        account = provider.db.session.get(Account, account_id)
        account.certificates  # noqa: B018 - load before the session ends
        provider.db.session.expunge(account)
        return account


def test_adding_a_token_raises_a_level_2_account(browser, settings, make_account, signer,
                                                 app, provider):
    account_id, person = make_account(make_person(cccd=CITIZEN_CCCD,
                                                  birthdate=CITIZEN_BIRTHDATE))
    page = console_login(browser, settings, person, "/account/security").get_data(as_text=True)
    assert 'id="certificates">Chưa có.' in page and 'id="add-usb-token"' in page
    response, _ = _add_token(signer, "citizen-rsa")
    assert response.headers["Location"] == "/account/security?done=certificate_added_ial3"
    account = _account(app, provider, account_id)
    assert (account.ial, account.verified_by) == (3, "operator")
    assert [row.cccd for row in account.certificates] == [CITIZEN_CCCD]
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "mức độ định danh 3" in page and "Nguyễn Văn An" in page
    assert "Mức 3" in browser.get("/account").get_data(as_text=True)
    assert audit_rows(app, provider, "account.ial_raised")[-1].detail == {
        "method": "usb_token", "previous": 2, "ial": 3}


def test_a_token_of_another_person_is_refused(browser, settings, make_account, signer, app,
                                              provider):
    account_id, person = make_account()  # CCCD 001085000000
    console_login(browser, settings, person, "/account/security")
    response, _ = _add_token(signer, "citizen-rsa")
    assert response.status_code == 400
    assert page_error(response) == MESSAGES_VI["other_account"]
    account = _account(app, provider, account_id)
    assert (account.ial, account.certificates) == (2, [])
    assert audit_rows(app, provider, "usb_token.add")[-1].detail["reason"] == "other_account"


def _console_login_with_token(browser, signer, name: str, path: str = "/account/security"):
    """A token-only account opens the console: password page → token page → back."""
    response = browser.get(path)
    tx = query(response.headers["Location"])["tx"]
    response, _ = signer.login(f"/login/usb?tx={tx}", name)
    assert response.headers["Location"] == path
    return browser.get(path).get_data(as_text=True)


def test_renewal_removal_and_the_last_certificate(browser, signer, token_account, usb_pki,
                                                  flow, app, provider):
    account_id = token_account("citizen-rsa")
    page = _console_login_with_token(browser, signer, "citizen-rsa")
    assert 'id="no-password"' in page
    original = _account(app, provider, account_id).certificates[0].id

    # The only way in cannot be removed.
    response = browser.post("/account/certificates/remove", data={
        "csrf_token": csrf_from(page), "certificate_id": str(original)})
    assert response.status_code == 400 and LAST_CERTIFICATE in response.get_data(as_text=True)

    # A renewed certificate (same identity, new key and serial) logs in and is recorded.
    renewed_der, renewed_key = usb_pki.renewed("citizen-rsa")
    response, verifier, _, _ = flow.authorize(acr_values=LEVEL_3)
    response, _ = signer.login(response.headers["Location"], "citizen-rsa", der=renewed_der,
                               key=renewed_key)
    assert id_claims(flow, to_portal(flow, response), verifier)["acr"] == LEVEL_3
    rows = _account(app, provider, account_id).certificates
    assert len(rows) == 2 and rows[0].serial_hex != rows[1].serial_hex
    assert audit_rows(app, provider, "usb_token.bind")[-1].account_id == account_id

    # Now the old one can go, and it no longer logs in.
    page = browser.get("/account/security").get_data(as_text=True)
    response = browser.post("/account/certificates/remove", data={
        "csrf_token": csrf_from(page), "certificate_id": str(original)})
    assert response.headers["Location"] == "/account/security?done=certificate_removed"
    response, *_ = flow.authorize(acr_values=LEVEL_3, prompt="login")
    response, _ = signer.login(response.headers["Location"], "citizen-rsa")
    assert response.status_code == 400
    assert page_error(response) == MESSAGES_VI["certificate_removed"]
    # Adding it back from the console restores it.
    response, _ = _add_token(signer, "citizen-rsa")
    assert response.headers["Location"] == "/account/security?done=certificate_added"
    assert all(row.removed_at is None for row in _account(app, provider, account_id).certificates)
