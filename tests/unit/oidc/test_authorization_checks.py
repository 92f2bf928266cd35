"""idp/oidc/authorize.py and idp/oidc/decision.py: the checks of an authorization request
that read only its parameters (prompt, max_age, acr, login_hint, response_mode), and the
consent decision (has_consent) on stored consents."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError

from idp.oidc.authorize import (
    check_acr_values,
    check_login_hint,
    check_max_age,
    check_openid_scope,
    check_prompt,
)
from idp.oidc.decision import UnmetAuthenticationRequirements, has_consent
from idp.store.models import Consent

LOA2, LOA3 = "urn:vn:sso:loa:2", "urn:vn:sso:loa:3"


def essential_acr(*values: str) -> str:
    return json.dumps({"id_token": {"acr": {"essential": True, "values": list(values)}}})


def test_every_request_must_ask_for_the_openid_scope():
    grant = SimpleNamespace(request=SimpleNamespace(scope="profile cccd"))
    with pytest.raises(InvalidScopeError):
        check_openid_scope(grant)
    check_openid_scope(SimpleNamespace(request=SimpleNamespace(scope="profile openid")))


def test_prompt_values_must_be_known_and_none_must_stand_alone():
    assert check_prompt({"prompt": "login consent"}) == {"login", "consent"}
    assert check_prompt({}) == set()
    for prompt in ("select_account", "none login"):
        with pytest.raises(InvalidRequestError):
            check_prompt({"prompt": prompt})


def test_max_age_is_a_non_negative_whole_number_of_seconds():
    assert check_max_age({}) is None
    assert check_max_age({"max_age": "0"}) == 0
    for value in ("-1", "1.5", "１０", "ten", "9" * 30):
        with pytest.raises(InvalidRequestError):
            check_max_age({"max_age": value})


def test_the_lowest_known_of_the_acr_values_is_asked_for_and_level_2_without_any():
    assert check_acr_values({}) == 2
    assert check_acr_values({"acr_values": LOA3}) == 3
    assert check_acr_values({"acr_values": f"{LOA3} {LOA2}"}) == 2
    assert check_acr_values({"acr_values": f"urn:other:loa:9 {LOA3}"}) == 3


def test_acr_values_none_of_which_is_known_are_refused():
    with pytest.raises(InvalidRequestError):
        check_acr_values({"acr_values": "urn:other:loa:9"})


def test_an_essential_acr_claim_raises_the_level_never_lowers_it():
    assert check_acr_values({"claims": essential_acr(LOA3)}) == 3
    assert check_acr_values({"acr_values": LOA2, "claims": essential_acr(LOA3)}) == 3
    assert check_acr_values({"acr_values": LOA3, "claims": essential_acr(LOA2)}) == 3


def test_an_essential_acr_claim_no_level_of_which_is_known_cannot_be_met():
    with pytest.raises(UnmetAuthenticationRequirements):
        check_acr_values({"claims": essential_acr("urn:other:loa:9")})


def test_an_acr_claim_that_is_not_essential_is_a_wish_only():
    claims = json.dumps({"id_token": {"acr": {"values": [LOA3]}}})
    assert check_acr_values({"claims": claims}) == 2


def test_a_login_hint_is_used_only_when_it_is_a_cccd_number():
    assert check_login_hint({"login_hint": " 001085000123 "}) == "001085000123"
    for hint in ("an@example.vn", "00108500012", "0010850001234", "00108500012a"):
        assert check_login_hint({"login_hint": hint}) is None


@pytest.fixture
def consented(provider, make_account, make_portal):
    """An account that allowed portal-a its openid and profile scopes, and its cccd."""
    account_id, _person = make_account()
    portal = make_portal("portal-a")
    session = provider.db.session
    session.add(Consent(account_id=account_id, client_id=portal.client_id,
                        scopes=["openid", "profile"], claims=["cccd"]))
    session.commit()
    return account_id


def test_a_consent_covers_the_scopes_it_allowed_and_no_others(consented):
    assert has_consent(consented, "portal-a", ["openid", "profile"], [])
    assert has_consent(consented, "portal-a", ["openid"], [])
    assert not has_consent(consented, "portal-a", ["openid", "email"], [])


def test_a_claim_asked_by_itself_is_covered_by_its_consented_scope_or_by_name(consented):
    assert has_consent(consented, "portal-a", ["openid"], ["name", "cccd"])
    assert not has_consent(consented, "portal-a", ["openid"], ["email"])
