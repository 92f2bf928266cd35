"""idp/oidc/claims_request.py: the `claims` request parameter (OIDC Core §5.5) read and
checked, and what a grant releases beyond its scopes for a given portal."""

from __future__ import annotations

import json

import pytest

from idp.oidc.claims_request import (
    InvalidClaimsRequest,
    individually_released,
    parse_claims_request,
    release,
    userinfo_release,
)
from idp.store.models import Client

PORTAL = Client(client_id="portal-a", allowed_scopes=["openid", "profile", "cccd", "email"])
VERIFYING_PORTAL = Client(client_id="bank", allowed_scopes=["openid", "profile",
                                                            "verified_claims"])


def parse(value: dict):
    return parse_claims_request(json.dumps(value))


def test_a_parameter_that_is_not_the_object_of_section_5_5_is_an_invalid_request():
    for value in ("not json", "[1]", "null", '{"userinfo": []}', '{"id_token": {"cccd": 1}}',
                  '{"id_token": {"acr": {"essential": "yes"}}}',
                  '{"id_token": {"acr": {"values": "urn:vn:sso:loa:2"}}}',
                  json.dumps({"userinfo": {f"c{n}": None for n in range(600)}})):
        with pytest.raises(InvalidClaimsRequest) as refused:
            parse_claims_request(value)
        assert refused.value.error == "invalid_request", value


def test_members_other_than_userinfo_and_id_token_are_ignored():
    request = parse({"id_token": None, "other": {"x": 1}, "userinfo": {"email": None}})
    assert (request.id_token, request.userinfo) == ({}, {"email": None})


def test_an_essential_acr_asks_for_the_lowest_known_level_among_its_values():
    request = parse({"id_token": {"acr": {"essential": True,
                                          "values": ["urn:other", "urn:vn:sso:loa:3"]}}})
    assert request.essential_acr_level() == 3
    single = parse({"id_token": {"acr": {"essential": True, "value": "urn:vn:sso:loa:2"}}})
    assert single.essential_acr_level() == 2


def test_an_acr_that_is_not_essential_or_has_no_value_sets_no_level():
    assert parse({"id_token": {"acr": {"values": ["urn:vn:sso:loa:3"]}}}
                 ).essential_acr_level() is None
    assert parse({"id_token": {"acr": {"essential": True}}}).essential_acr_level() is None
    assert parse({"userinfo": {"acr": {"essential": True, "value": "urn:vn:sso:loa:3"}}}
                 ).essential_acr_level() is None


def test_a_sub_asked_with_a_string_value_names_the_only_user_who_may_answer():
    assert parse({"id_token": {"sub": {"value": "abc"}}}).subject() == "abc"
    assert parse({"id_token": {"sub": {"value": 5}}}).subject() is None
    assert parse({"id_token": {"sub": None}}).subject() is None


def test_only_claims_of_the_scopes_the_portal_is_registered_for_are_released():
    request = parse({"id_token": {"cccd": None, "phone_number": None, "no_such": None},
                     "userinfo": {"email": {"essential": True}, "name": None}})
    assert release(request, PORTAL) == {"id_token": ["cccd"], "userinfo": ["email", "name"]}


def test_protocol_claims_release_nothing_more():
    request = parse({"id_token": {"sub": None, "acr": None, "amr": None, "auth_time": None}})
    assert release(request, PORTAL) is None


def test_verified_claims_go_only_to_a_portal_registered_for_them():
    ask = {"verification": {"trust_framework": None},
           "claims": {"name": None, "cccd": None}}
    request = parse({"userinfo": {"verified_claims": ask}})
    assert release(request, PORTAL) is None
    released = release(request, VERIFYING_PORTAL)
    assert released["verified"]["userinfo"] == {"request": ask, "names": ["name"]}


def test_consent_lists_every_claim_released_one_by_one():
    ask = {"claims": {"birthdate": None}}
    request = parse({"id_token": {"name": None},
                     "userinfo": {"name": None, "verified_claims": ask}})
    assert individually_released(release(request, VERIFYING_PORTAL)) == [
        "birthdate", "name", "verified_claims"]
    assert individually_released(None) == []


def test_the_access_token_carries_the_userinfo_part_of_a_release_only():
    id_token_only = release(parse({"id_token": {"cccd": None}}), PORTAL)
    assert userinfo_release(id_token_only) is None
    both = release(parse({"id_token": {"cccd": None}, "userinfo": {"email": None}}), PORTAL)
    assert userinfo_release(both) == {"names": ["email"]}
