"""Login with a SIM signature over HTTP against the MSSP simulator: level 3 when the phone
approves, its own Vietnamese message and nothing recorded for every other result."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from connectors.pki import MESSAGES_VI as PKI_MESSAGES
from idp.simsign.service import MESSAGES_VI
from idp.store.models import AccountCertificate
from tests.conftest import csrf_from, make_person, query
from tests.simsign.conftest import (
    CITIZEN_PHONE,
    EC_CITIZEN_PHONE,
    ENTERPRISE_PHONE,
    EXPIRED_PHONE,
    REVOKED_PHONE,
    tx_of,
)
from tests.usbtoken.conftest import (
    CITIZEN_BIRTHDATE,
    CITIZEN_CCCD,
    LEVEL_3,
    audit_rows,
    counts,
    id_claims,
    new_browser,
    session_cookie,
    to_portal,
)


def _level_3_request(flow) -> tuple[str, str]:
    response, verifier, _, _ = flow.authorize(acr_values=LEVEL_3)
    location = response.headers["Location"]
    assert location.startswith("/login/usb?tx=")
    assert 'id="sim-login"' in flow.browser.get(location).get_data(as_text=True)
    return tx_of(location), verifier


def _logins(app, provider) -> int:
    return len([row for row in audit_rows(app, provider, "login") if row.result == "success"])


@pytest.mark.parametrize(("phone", "name"), [
    (CITIZEN_PHONE, "citizen-rsa"), (EC_CITIZEN_PHONE, "citizen-ec"),
    (ENTERPRISE_PHONE, "enterprise"),
])
def test_phone_approval_logs_in_at_level_3(flow, sim, mssp, token_account, app, provider,
                                           phone, name):
    account_id = token_account(name)
    tx, verifier = _level_3_request(flow)
    wait = sim.start(tx, phone)
    assert wait.status_code == 200, wait.get_data(as_text=True)
    pending = mssp.control(phone)
    assert pending["state"] == "RUNNING"
    assert pending["code"] == sim.code(wait)  # the phone shows the page's code
    url = sim.status_url(wait)
    assert sim.status(url) == {"state": "running"}
    mssp.control(phone, "approve")
    answer = sim.finish(url)
    assert answer["state"] == "done", answer
    claims = id_claims(flow, to_portal(flow, answer["next"]), verifier)
    assert claims["acr"] == LEVEL_3
    assert {"sc", "mca", "mfa"} <= set(claims["amr"])
    login = audit_rows(app, provider, "login")[-1]
    assert login.account_id == account_id
    assert login.detail["method"] == "sim_signature"


@pytest.mark.parametrize(("phone", "action", "reason"), [
    (CITIZEN_PHONE, "cancel", "USER_CANCELLED"),
    (CITIZEN_PHONE, "timeout", "TIMEOUT"),
    (CITIZEN_PHONE, "hash_mismatch", "SIGNATURE_HASH_MISMATCH"),
    ("+84900000091", None, "NOT_SIM_CLIENT"),
    ("+84900000092", None, "PHONE_ABSENT"),
    ("+84900000093", None, "DELIVERY_ERROR"),
    ("0912000111", None, "NOT_SIM_CLIENT"),
])
def test_each_result_has_its_message_and_logs_nobody_in(flow, sim, mssp, token_account, app,
                                                         provider, phone, action, reason):
    token_account("citizen-rsa")
    before = counts(app, provider)
    tx, _ = _level_3_request(flow)
    wait = sim.start(tx, phone)
    if action:
        mssp.control(phone, action)
    answer = sim.finish(sim.status_url(wait))
    assert answer == {"state": "failed", "message": MESSAGES_VI[reason]}
    assert counts(app, provider) == before
    assert session_cookie(flow.browser) is None
    assert _logins(app, provider) == 0
    refused = audit_rows(app, provider, "login.sim")[-1]
    assert refused.result == "refused" and refused.detail["reason"] == reason


@pytest.mark.parametrize(("phone", "action", "message"), [
    (EXPIRED_PHONE, "approve", PKI_MESSAGES["expired"]),
    (REVOKED_PHONE, "approve", PKI_MESSAGES["revoked"]),
    (CITIZEN_PHONE, "wrong_hash", PKI_MESSAGES["bad_signature"]),
])
def test_bad_certificate_or_signature_is_refused(flow, sim, mssp, token_account, app,
                                                 provider, phone, action, message):
    token_account("citizen-rsa")
    before = counts(app, provider)
    tx, _ = _level_3_request(flow)
    wait = sim.start(tx, phone)
    mssp.control(phone, action)
    assert sim.finish(sim.status_url(wait)) == {"state": "failed", "message": message}
    assert counts(app, provider) == before
    assert session_cookie(flow.browser) is None and _logins(app, provider) == 0


def test_sim_without_account_is_refused(flow, sim, mssp, app, provider):
    tx, _ = _level_3_request(flow)
    wait = sim.start(tx, CITIZEN_PHONE)
    mssp.control(CITIZEN_PHONE, "approve")
    answer = sim.finish(sim.status_url(wait))
    assert answer == {"state": "failed", "message": MESSAGES_VI["not_registered"]}
    assert counts(app, provider) == {"accounts": 0, "certificates": 0}


def test_request_id_is_spent_and_bound_to_the_browser(flow, sim, mssp, token_account, app,
                                                      provider):
    token_account("citizen-rsa")
    tx, _ = _level_3_request(flow)
    wait = sim.start(tx, CITIZEN_PHONE)
    url = sim.status_url(wait)
    assert new_browser(app).get(url).status_code == 400  # not this browser's interaction
    mssp.control(CITIZEN_PHONE, "approve")
    assert sim.finish(url)["state"] == "done"
    replayed = sim.status(url)
    assert replayed == {"state": "failed", "message": MESSAGES_VI["unknown"]}
    assert _logins(app, provider) == 1


def test_cancel_forgets_the_request(flow, sim, mssp, token_account, app, provider):
    token_account("citizen-rsa")
    tx, _ = _level_3_request(flow)
    wait = sim.start(tx, CITIZEN_PHONE)
    url = sim.status_url(wait)
    s = query(url)["s"]
    page = flow.browser.post("/login/sim/cancel", data={
        "csrf_token": csrf_from(wait.get_data(as_text=True)), "tx": tx, "s": s})
    assert "Đã hủy yêu cầu ký số." in page.get_data(as_text=True)
    mssp.control(CITIZEN_PHONE, "approve")  # confirmed on the phone too late
    assert sim.status(url) == {"state": "failed", "message": MESSAGES_VI["unknown"]}
    assert _logins(app, provider) == 0


def test_invalid_phone_is_refused_before_the_mssp(flow, sim):
    tx, _ = _level_3_request(flow)
    page = sim.start(tx, "12345")
    assert page.status_code == 400
    assert 'id="error"' in page.get_data(as_text=True)


def test_step_up_raises_the_session_with_the_own_sim(flow, sim, mssp, make_account, app,
                                                     provider):
    _, person = make_account(make_person(cccd=CITIZEN_CCCD, birthdate=CITIZEN_BIRTHDATE))
    flow.login(person)
    tx, verifier = _level_3_request(flow)
    assert 'id="step-up"' in flow.browser.get(f"/login/sim?tx={tx}").get_data(as_text=True)
    wait = sim.start(tx, CITIZEN_PHONE)
    mssp.control(CITIZEN_PHONE, "approve")
    answer = sim.finish(sim.status_url(wait))
    assert answer["state"] == "done", answer
    claims = id_claims(flow, to_portal(flow, answer["next"]), verifier)
    assert claims["acr"] == LEVEL_3 and claims["_userinfo"]["ial"] == 3
    with app.app_context():
        kinds = list(provider.db.session.scalars(select(AccountCertificate.kind)))
    assert kinds == ["sim"]


def test_step_up_with_another_persons_sim_is_refused(flow, sim, mssp, make_account,
                                                     token_account, app, provider):
    token_account("citizen-ec")
    _, person = make_account(make_person(cccd=CITIZEN_CCCD, birthdate=CITIZEN_BIRTHDATE))
    flow.login(person)
    before = counts(app, provider)
    tx, _ = _level_3_request(flow)
    wait = sim.start(tx, EC_CITIZEN_PHONE)
    mssp.control(EC_CITIZEN_PHONE, "approve")
    answer = sim.finish(sim.status_url(wait))
    assert answer == {"state": "failed", "message": MESSAGES_VI["other_account"]}
    assert counts(app, provider) == before
