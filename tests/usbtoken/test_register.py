"""Registration with a USB token for Công dân, Doanh nghiệp and Cơ quan nhà nước."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from connectors.pki import MESSAGES_VI
from idp.certificates.refusals import MESSAGES_VI as FLOW_MESSAGES
from idp.store.models import Account
from tests.conftest import csrf_from, make_person
from tests.usbtoken.conftest import (
    AGENCY_BUDGET_CODE,
    CITIZEN_BIRTHDATE,
    CITIZEN_CCCD,
    ENTERPRISE_MST,
    LEVEL_3,
    audit_rows,
    counts,
    id_claims,
    page_error,
    to_portal,
)


@pytest.mark.parametrize("account_type", ["citizen", "enterprise", "agency"])
def test_every_account_type_offers_the_token(browser, account_type):
    page = browser.get(f"/register/{account_type}").get_data(as_text=True)
    assert f'href="/register/usb/{account_type}"' in page and "USB ký số" in page


def _account(app, provider, **where) -> Account | None:
    with app.app_context():
        query = select(Account)
        if "cccd" in where:  # encrypted: found through its blind index
            query = query.where(Account.cccd_is(where.pop("cccd")))
        query = query.filter_by(**where)
        account = provider.db.session.scalar(query)
        if account is not None:
            provider.db.session.expunge(account)
        return account


def test_citizen_registers_with_the_certificate_identity(signer, app, provider, flow):
    response, _ = signer.register("citizen", "citizen-rsa")
    assert response.status_code == 303, response.get_data(as_text=True)
    confirm = response.headers["Location"]
    page = signer.open(confirm)
    assert "Nguyễn Văn An" in page and "001*******34" in page  # from the certificate, masked
    response = signer.complete_registration(confirm, birthdate=CITIZEN_BIRTHDATE,
                                            email="an@example.vn")
    assert response.status_code == 200 and 'id="registered"' in response.get_data(as_text=True)
    account = _account(app, provider, cccd=CITIZEN_CCCD)
    assert (account.account_type, account.ial, account.verified_by) == ("citizen", 3,
                                                                        "usb_token")
    assert (account.full_name, account.gender, account.birthdate.isoformat()) == (
        "Nguyễn Văn An", "male", CITIZEN_BIRTHDATE)
    assert account.password_hash is None and account.email == "an@example.vn"
    assert audit_rows(app, provider, "register.complete")[-1].detail["method"] == "usb_token"
    # And the new account logs in at level 3.
    response, verifier, _, _ = flow.authorize(acr_values=LEVEL_3)
    response, _ = signer.login(response.headers["Location"], "citizen-rsa")
    assert id_claims(flow, to_portal(flow, response), verifier)["acr"] == LEVEL_3


@pytest.mark.parametrize(("name", "where", "code"), [
    ("enterprise", {"tax_code": ENTERPRISE_MST}, None),
    ("agency", {"budget_code": AGENCY_BUDGET_CODE}, "0107654326"),
])
def test_organisation_registers_without_a_person(signer, app, provider, name, where, code):
    response, _ = signer.register(name, name)
    confirm = response.headers["Location"]
    page = signer.open(confirm)
    assert "birthdate" not in page and next(iter(where.values())) in page
    response = signer.complete_registration(confirm, email="")
    assert response.status_code == 200, response.get_data(as_text=True)
    account = _account(app, provider, **where)
    assert (account.account_type, account.ial, account.cccd, account.birthdate) == (
        name, 3, None, None)
    assert account.tax_code == (code or ENTERPRISE_MST) and account.organization
    with app.app_context():
        assert len(provider.db.session.get(Account, account.id).certificates) == 1


def test_a_certificate_of_another_kind_is_refused(signer, app, provider):
    response, _ = signer.register("enterprise", "citizen-rsa")
    assert response.status_code == 400
    assert page_error(response) == FLOW_MESSAGES["wrong_kind"]
    assert counts(app, provider) == {"accounts": 0, "certificates": 0}
    assert audit_rows(app, provider, "register.usb")[-1].detail["reason"] == "wrong_kind"


@pytest.mark.parametrize("name", ["expired", "revoked", "untrusted"])
def test_bad_certificate_registers_nothing(signer, app, provider, name):
    response, _ = signer.register("citizen", name)
    assert response.status_code == 400
    assert page_error(response) == MESSAGES_VI[name]
    assert counts(app, provider) == {"accounts": 0, "certificates": 0}


def test_a_replayed_registration_signature_is_refused(signer, browser, app, provider):
    response, fields = signer.register("citizen", "citizen-rsa")
    assert response.status_code == 303
    page = signer.open("/register/usb/citizen")
    replay = browser.post("/register/usb/citizen", data={"csrf_token": csrf_from(page),
                                                         **fields})
    assert replay.status_code == 400
    assert page_error(replay) == FLOW_MESSAGES["challenge_unknown"]


def test_birth_year_must_be_the_one_the_cccd_encodes(signer, app, provider):
    response, _ = signer.register("citizen", "citizen-rsa")
    confirm = response.headers["Location"]
    response = signer.complete_registration(confirm, birthdate="1991-04-02")
    assert response.status_code == 400
    assert "năm sinh" in response.get_data(as_text=True)
    assert counts(app, provider) == {"accounts": 0, "certificates": 0}


def test_an_identity_with_an_account_is_told_so(signer, make_account, app, provider):
    make_account(make_person(cccd=CITIZEN_CCCD, birthdate=CITIZEN_BIRTHDATE))  # level 2
    response, _ = signer.register("citizen", "citizen-rsa")
    assert response.status_code == 200 and 'id="exists"' in response.get_data(as_text=True)
    assert counts(app, provider) == {"accounts": 1, "certificates": 0}


def test_a_typed_birth_date_is_kept_but_never_released_as_checked(signer, app, provider):
    from idp.oidc.claims import user_claims
    from idp.oidc.consent import consent_lines

    response, _ = signer.register("citizen", "citizen-rsa")  # no dateOfBirth in it
    confirm = response.headers["Location"]
    assert "chưa xác minh" in signer.open(confirm)
    signer.complete_registration(confirm, birthdate=CITIZEN_BIRTHDATE)
    with app.app_context():
        account = provider.db.session.scalar(select(Account).where(Account.cccd_is(CITIZEN_CCCD)))
        assert account.birthdate.isoformat() == CITIZEN_BIRTHDATE
        assert not account.birthdate_verified
        claims = user_claims(account, ["openid", "profile"], sub="s")
        assert "birthdate" not in claims and claims["name"] == "Nguyễn Văn An"
        assert "Ngày sinh" not in [line.label for line in consent_lines(account, ["profile"])]


def test_a_birth_date_the_ca_vouches_for_is_used_and_released(signer, app, provider):
    from idp.oidc.claims import user_claims

    response, _ = signer.register("citizen", "citizen-ec")  # dateOfBirth 1995-08-21
    confirm = response.headers["Location"]
    page = signer.open(confirm)
    assert 'id="birthdate-certified">21/08/1995' in page and 'name="birthdate"' not in page
    response = signer.complete_registration(confirm, birthdate="1990-01-01")  # ignored
    assert response.status_code == 200
    with app.app_context():
        account = provider.db.session.scalar(select(Account).where(
            Account.cccd_is("079195000123")))
        assert account.birthdate.isoformat() == "1995-08-21" and account.birthdate_verified
        assert user_claims(account, ["profile"], sub="s")["birthdate"] == "1995-08-21"
