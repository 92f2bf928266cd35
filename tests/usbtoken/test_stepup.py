"""Step-up: a portal asking for level 3 gets level 3 or an error, never less."""

from __future__ import annotations

from sqlalchemy import select

from idp.certificates.refusals import MESSAGES_VI
from idp.store.models import Account, AccountCertificate
from tests.conftest import config, csrf_from, last_otp, make_person, query
from tests.usbtoken.conftest import (
    CITIZEN_BIRTHDATE,
    CITIZEN_CCCD,
    LEVEL_3,
    audit_rows,
    id_claims,
    page_error,
    session_cookie,
    to_portal,
)


def _level_2_citizen(flow, make_account, **overrides):
    """A password + SMS account logged in at level 2 in the flow's browser."""
    account_id, person = make_account(make_person(**overrides))
    flow.login(person)
    return account_id, person


def _session(flow, app, provider):
    from idp.sessions import load_session

    with app.test_request_context():
        return load_session(session_cookie(flow.browser))


def test_level_2_session_is_asked_for_the_token_and_raised(flow, make_account, signer, app,
                                                          provider):
    account_id, _ = _level_2_citizen(flow, make_account, cccd=CITIZEN_CCCD,
                                     birthdate=CITIZEN_BIRTHDATE)
    sid = _session(flow, app, provider).sid
    response, verifier, _, _ = flow.authorize(acr_values=LEVEL_3)
    location = response.headers["Location"]
    assert location.startswith("/login/usb?tx=")
    assert 'id="step-up"' in signer.open(location)
    response, _ = signer.login(location, "citizen-rsa")
    assert response.status_code == 303, response.get_data(as_text=True)
    claims = id_claims(flow, to_portal(flow, response), verifier)
    assert claims["acr"] == LEVEL_3 and "hwk" in claims["amr"]
    assert claims["sid"] == sid  # the same session, raised
    assert claims["_userinfo"]["ial"] == 3
    with app.app_context():
        account = provider.db.session.get(Account, account_id)
        assert (account.ial, account.verified_by) == (3, "operator")
        assert [c.cccd for c in account.certificates] == [CITIZEN_CCCD]
    raised = audit_rows(app, provider, "account.ial_raised")
    assert [(r.account_id, r.detail["method"]) for r in raised] == [(account_id, "usb_token")]
    # The raised session now answers level-3 requests without asking again.
    response, *_ = flow.authorize(acr_values=LEVEL_3)
    assert response.headers["Location"].startswith(flow.portal.redirect_uri)
    assert "code" in query(response.headers["Location"])


def test_step_up_with_another_accounts_token_is_refused(flow, make_account, signer,
                                                       token_account, app, provider):
    account_id, _ = _level_2_citizen(flow, make_account)  # CCCD 001085000000
    token_account("citizen-rsa")  # someone else's level-3 account and token
    response, *_ = flow.authorize(acr_values=LEVEL_3)
    response, _ = signer.login(response.headers["Location"], "citizen-rsa")
    assert response.status_code == 400
    assert page_error(response) == MESSAGES_VI["other_account"]
    session = _session(flow, app, provider)
    assert (session.account_id, session.acr) == (account_id, "urn:vn:sso:loa:2")
    with app.app_context():
        assert provider.db.session.get(Account, account_id).ial == 2


def test_giving_up_the_token_tells_the_portal_unmet(flow, make_account, signer):
    _level_2_citizen(flow, make_account)
    response, _, state, _ = flow.authorize(acr_values=LEVEL_3)
    location = response.headers["Location"]
    page = signer.open(location)
    response = flow.browser.post("/login/usb/cancel", data={
        "csrf_token": csrf_from(page), "tx": query(location)["tx"]})
    params = query(response.headers["Location"])
    assert response.headers["Location"].startswith(flow.portal.redirect_uri)
    assert params["error"] == "unmet_authentication_requirements"
    assert params["state"] == state and "code" not in params


def test_password_login_during_a_level_3_request_never_gets_a_code(flow, make_account,
                                                                  signer):
    _, person = make_account()
    response, *_ = flow.authorize(acr_values=LEVEL_3)
    tx = query(response.headers["Location"])["tx"]
    # The password page, opened by hand instead of the token page.
    response = flow.submit_password(f"/login?tx={tx}", person.cccd, person.password)
    response = flow.submit_otp(tx, last_otp(flow.settings))
    # Below the level asked for: on to the token's page, never to the portal.
    assert response.headers["Location"].startswith(f"/login/usb?tx={tx}")
    assert 'id="step-up"' in signer.open(response.headers["Location"])


def test_prompt_none_below_level_3_is_login_required(flow, make_account):
    _level_2_citizen(flow, make_account)
    response, _, state, _ = flow.authorize(acr_values=LEVEL_3, prompt="none")
    params = query(response.headers["Location"])
    assert params["error"] == "login_required" and "code" not in params


@config(usb_token={"trusted_roots": []})
def test_without_trusted_cas_level_3_is_unmet(flow, make_account, app, provider):
    _level_2_citizen(flow, make_account)
    response, _, state, _ = flow.authorize(acr_values=LEVEL_3)
    params = query(response.headers["Location"])
    assert params["error"] == "unmet_authentication_requirements"
    assert "code" not in params
    assert 'id="method-usb"' not in flow.browser.get("/register/citizen").get_data(as_text=True)
    with app.app_context():
        assert provider.db.session.scalars(select(AccountCertificate)).all() == []
