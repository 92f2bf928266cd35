"""idp/account/services.py: what a citizen changes from the console, without its pages:
the password (current one checked and counted), their sessions, the contact e-mail proven
by a single-use link, and the portals they consented to."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import pytest

from connectors.email import read_outbox
from idp.account.services import (
    HOTLINE,
    TOO_MANY_TRIES,
    WRONG_CURRENT,
    change_own_password,
    confirm_email,
    consents_of,
    email_link_valid,
    end_session_by_handle,
    is_recent,
    revoke_consent,
    send_email_link,
)
from idp.oidc.claims import SCOPES
from idp.sessions import account_sessions, create_session, session_handle
from idp.store.models import Account, Consent
from idp.vntime import clock_time
from tests.conftest import STRONG_PASSWORD
from tests.unit.account.rows import live_families, refresh_token
from tests.unit.service_app import sms_to

NEW_PASSWORD = "Mat-Khau#Moi-2025"


@pytest.fixture
def citizen(provider, make_account):
    account_id, person = make_account()
    return SimpleNamespace(account=provider.db.session.get(Account, account_id), person=person)


def session_of(account: Account):
    return create_session(account.id, int(time.time()), "urn:vn:sso:loa:2", ["pwd", "otp"])


def test_a_sensitive_change_needs_a_login_of_the_last_ten_minutes():
    now = time.time()
    assert is_recent(SimpleNamespace(auth_time=now - 590))
    assert not is_recent(SimpleNamespace(auth_time=now - 610))
    assert not is_recent(SimpleNamespace(auth_time=now - 90), max_age=60)


def test_a_wrong_current_password_changes_nothing_and_is_counted(provider, citizen):
    before = citizen.account.password_hash
    problems = change_own_password(citizen.account, "wrong", NEW_PASSWORD, NEW_PASSWORD, "s")
    assert problems == [WRONG_CURRENT]
    assert citizen.account.password_hash == before
    assert provider.limits.count("account.password_checks", citizen.account.id) == 1


def test_after_five_wrong_current_passwords_the_right_one_is_refused_until_a_time(citizen,
                                                                                 provider):
    for _ in range(5):
        change_own_password(citizen.account, "wrong", NEW_PASSWORD, NEW_PASSWORD, "s")
    until = provider.limits.resets_at("account.password_checks", citizen.account.id)
    assert change_own_password(citizen.account, STRONG_PASSWORD, NEW_PASSWORD, NEW_PASSWORD,
                               "s") == [TOO_MANY_TRIES.format(until=clock_time(until))]


def test_the_new_password_must_differ_from_the_current_and_be_typed_twice_alike(citizen):
    before = citizen.account.password_hash
    same = change_own_password(citizen.account, STRONG_PASSWORD, STRONG_PASSWORD,
                               STRONG_PASSWORD, "s")
    mistyped = change_own_password(citizen.account, STRONG_PASSWORD, NEW_PASSWORD,
                                   NEW_PASSWORD + "x", "s")
    assert same == ["Mật khẩu mới phải khác mật khẩu hiện tại."]
    assert mistyped == ["Mật khẩu nhập lại không khớp."]
    assert citizen.account.password_hash == before


def test_a_changed_password_ends_the_other_sessions_and_revokes_tokens_and_tells_the_phone(
        provider, citizen, make_portal):
    make_portal("portal-a")
    this = session_of(citizen.account)
    session_of(citizen.account)  # in another browser
    refresh_token(provider, citizen.account, "fam-a")
    change_own_password(citizen.account, "wrong", NEW_PASSWORD, NEW_PASSWORD, this.sid)
    assert change_own_password(citizen.account, STRONG_PASSWORD, NEW_PASSWORD, NEW_PASSWORD,
                               this.sid) == []
    assert [s.sid for s in account_sessions(citizen.account.id)] == [this.sid]
    assert live_families(provider) == []
    assert provider.limits.count("account.password_checks", citizen.account.id) == 0
    [notice] = sms_to(provider, citizen.person.phone)
    assert "vừa được thay đổi" in notice and HOTLINE in notice


def test_a_session_is_ended_by_its_handle_only_for_its_own_account(provider, citizen,
                                                                   make_account):
    session = session_of(citizen.account)
    other_id, _ = make_account(n=1)
    assert not end_session_by_handle(other_id, session_handle(session.sid))
    assert account_sessions(citizen.account.id)
    assert end_session_by_handle(citizen.account.id, session_handle(session.sid))
    assert account_sessions(citizen.account.id) == []


def test_an_email_link_proves_the_address_once(provider, citizen):
    send_email_link(citizen.account, "moi@example.vn", "https://sso.test/account/email/verify")
    [mail] = read_outbox(provider.settings.connectors["email"].outbox_path)
    assert mail["to"] == "moi@example.vn"
    token = re.search(r"\?token=([\w-]+)", mail["body"]).group(1)
    assert email_link_valid(token)
    confirmed = confirm_email(token)
    assert (confirmed.id, confirmed.email, confirmed.email_verified) == (
        citizen.account.id, "moi@example.vn", True)
    assert not email_link_valid(token)
    assert confirm_email(token) is None


def test_withdrawing_a_consent_revokes_that_portals_tokens_only(provider, citizen,
                                                                make_portal):
    for client_id in ("portal-a", "portal-b"):
        make_portal(client_id)
        provider.db.session.add(Consent(account_id=citizen.account.id, client_id=client_id,
                                        scopes=["openid", "cccd", "no_such_scope"]))
        refresh_token(provider, citizen.account, f"fam-{client_id}", client_id)
    provider.db.session.commit()
    listed = consents_of(citizen.account)
    assert [(c.client_id, c.scopes) for c in listed] == [
        (client_id, [SCOPES["openid"][1], SCOPES["cccd"][1]])
        for client_id in ("portal-a", "portal-b")]
    assert revoke_consent(citizen.account, "portal-a")
    assert live_families(provider) == ["fam-portal-b"]
    assert [c.client_id for c in consents_of(citizen.account)] == ["portal-b"]
    assert not revoke_consent(citizen.account, "portal-a")
