"""Registration with a SIM signature: Công dân and Doanh nghiệp, identity from the certificate."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.certificates.refusals import MESSAGES_VI as ACCOUNT_MESSAGES
from idp.simsign.views import EXISTS
from idp.store.models import Account
from tests.conftest import csrf_from, query
from tests.simsign.conftest import CITIZEN_PHONE, ENTERPRISE_PHONE
from tests.usbtoken.conftest import (
    CITIZEN_BIRTHDATE,
    CITIZEN_CCCD,
    ENTERPRISE_MST,
    audit_rows,
    counts,
)


def _register(browser, sim, mssp, account_type: str, phone: str) -> dict:
    page = browser.get(f"/register/sim/{account_type}")
    assert page.status_code == 200
    wait = browser.post(f"/register/sim/{account_type}", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "t": account_type,
        "phone": phone})
    assert wait.status_code == 200, wait.get_data(as_text=True)
    assert mssp.control(phone)["code"] == sim.code(wait)
    mssp.control(phone, "approve")
    return sim.finish(sim.status_url(wait))


def _confirm(browser, location: str, **form: str):
    page = browser.get(location)
    assert page.status_code == 200, page.get_data(as_text=True)
    return browser.post("/register/usb/confirm", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "r": query(location)["r"],
        **form})


@pytest.mark.parametrize(("account_type", "phone", "form", "column", "value"), [
    ("citizen", CITIZEN_PHONE, {"email": "", "birthdate": CITIZEN_BIRTHDATE}, "cccd",
     CITIZEN_CCCD),
    ("enterprise", ENTERPRISE_PHONE, {"email": "ketoan@songhong.vn"}, "tax_code",
     ENTERPRISE_MST),
])
def test_registers_a_level_3_account(browser, sim, mssp, app, provider, account_type, phone,
                                     form, column, value):
    choose = browser.get(f"/register/{account_type}")
    assert 'id="method-sim"' in choose.get_data(as_text=True)
    answer = _register(browser, sim, mssp, account_type, phone)
    assert answer["state"] == "done", answer
    response = _confirm(browser, answer["next"], **form)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "SIM ký số" in response.get_data(as_text=True)
    with app.app_context():
        account = provider.db.session.scalar(select(Account))
        assert getattr(account, column) == value
        assert account.ial == 3 and account.verified_by == "sim_signature"
        assert [row.kind for row in account.certificates] == ["sim"]
    done = audit_rows(app, provider, "register.complete")[-1]
    assert done.detail["method"] == "sim_signature"


def test_existing_account_is_not_registered_twice(browser, sim, mssp, token_account, app,
                                                  provider):
    token_account("citizen-rsa")
    before = counts(app, provider)
    answer = _register(browser, sim, mssp, "citizen", CITIZEN_PHONE)
    assert answer == {"state": "failed", "message": EXISTS}
    assert counts(app, provider) == before


def test_certificate_of_another_kind_is_refused(browser, sim, mssp, app, provider):
    answer = _register(browser, sim, mssp, "citizen", ENTERPRISE_PHONE)
    assert answer == {"state": "failed", "message": ACCOUNT_MESSAGES["wrong_kind"]}
    assert counts(app, provider) == {"accounts": 0, "certificates": 0}
