"""Adding a SIM from the account console: the SIM's certificate must carry the account's
identity; it raises a level-2 account to IAL 3."""

from __future__ import annotations

from idp.simsign.service import MESSAGES_VI
from idp.store.models import Account
from tests.account.conftest import console_login
from tests.conftest import csrf_from, make_person
from tests.simsign.conftest import CITIZEN_PHONE
from tests.usbtoken.conftest import CITIZEN_BIRTHDATE, CITIZEN_CCCD, audit_rows


def _add_sim(browser, sim, mssp, phone: str) -> dict:
    page = browser.get("/account/sim")
    assert page.status_code == 200, page.get_data(as_text=True)
    wait = browser.post("/account/sim", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "acct": "1", "phone": phone})
    assert wait.status_code == 200, wait.get_data(as_text=True)
    mssp.control(phone, "approve")
    return sim.finish(sim.status_url(wait))


def _account(app, provider, account_id: int) -> tuple[int, list[str]]:
    with app.app_context():
        account = provider.db.session.get(Account, account_id)
        return account.ial, [row.kind for row in account.certificates]


def test_adding_a_sim_raises_a_level_2_account(browser, settings, make_account, sim, mssp,
                                               app, provider):
    account_id, person = make_account(make_person(cccd=CITIZEN_CCCD,
                                                  birthdate=CITIZEN_BIRTHDATE))
    page = console_login(browser, settings, person, "/account/security").get_data(as_text=True)
    assert 'id="add-sim"' in page
    answer = _add_sim(browser, sim, mssp, CITIZEN_PHONE)
    assert answer == {"state": "done",
                      "next": "/account/security?done=certificate_added_ial3"}
    assert _account(app, provider, account_id) == (3, ["sim"])
    assert audit_rows(app, provider, "account.ial_raised")[-1].detail["method"] == \
        "sim_signature"


def test_a_sim_of_another_person_is_refused(browser, settings, make_account, sim, mssp, app,
                                            provider):
    account_id, person = make_account()  # CCCD 001085000000
    console_login(browser, settings, person, "/account/security")
    answer = _add_sim(browser, sim, mssp, CITIZEN_PHONE)
    assert answer == {"state": "failed", "message": MESSAGES_VI["other_account"]}
    assert _account(app, provider, account_id) == (2, [])
