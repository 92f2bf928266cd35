"""idp/oidc/claims.py (which claims each scope releases, and their values for an account)
and idp/oidc/consent.py (how the consent screen names them), on accounts built in memory."""

from __future__ import annotations

from datetime import date

from idp.oidc.claims import SCOPES, SUPPORTED_CLAIMS, claim_values, scope_claims, user_claims
from idp.oidc.consent import consent_lines
from idp.store.models import Account, OtpPhone

SUB = "pairwise-sub"


def citizen(**overrides) -> Account:
    values = dict(
        account_type="citizen", ial=2, cccd="001085000123", full_name="Nguyễn Văn An",
        birthdate=date(1985, 3, 15), birthdate_verified=True, gender="male",
        email="an@example.vn", email_verified=False,
        phones=[OtpPhone(phone="+84911111111", is_default=False),
                OtpPhone(phone="+84912345678", is_default=True)],
    )
    values.update(overrides)
    return Account(**values)


def enterprise(**overrides) -> Account:
    values = dict(account_type="enterprise", ial=3, cccd=None, full_name="CÔNG TY TNHH AN",
                  birthdate=None, gender=None, email=None, tax_code="0101234567",
                  organization=None, budget_code=None, phones=[])
    values.update(overrides)
    return Account(**values)


def test_each_scope_releases_its_own_claims():
    assert {scope: scope_claims([scope]) for scope in SCOPES} == {
        "openid": {"sub", "ial", "account_type"},
        "profile": {"name", "birthdate", "gender"},
        "phone": {"phone_number", "phone_number_verified"},
        "email": {"email", "email_verified"},
        "cccd": {"cccd"},
        "organization": {"tax_code", "organization_name", "budget_code"},
        "verified_claims": {"verified_claims"},
        "offline_access": set(),
    }


def test_every_claim_a_scope_releases_is_announced_as_supported():
    released = {claim for claims, _label in SCOPES.values() for claim in claims}
    assert released <= set(SUPPORTED_CLAIMS)
    assert {"acr", "amr", "auth_time", "nonce", "sid"} <= set(SUPPORTED_CLAIMS)


def test_only_the_claims_of_the_scopes_asked_for_are_released():
    claims = user_claims(citizen(), ["openid", "profile"], SUB)
    assert claims == {"sub": SUB, "ial": 2, "account_type": "citizen",
                      "name": "Nguyễn Văn An", "birthdate": "1985-03-15", "gender": "male"}


def test_a_claim_asked_for_by_itself_is_released_without_its_scope():
    claims = user_claims(citizen(), ["openid"], SUB, extra=["email"])
    assert claims["email"] == "an@example.vn"
    assert "email_verified" not in claims and "name" not in claims


def test_the_phone_released_is_the_default_otp_phone_and_is_verified():
    claims = user_claims(citizen(), ["phone"], SUB)
    assert (claims["phone_number"], claims["phone_number_verified"]) == ("+84912345678", True)


def test_a_birth_date_nobody_checked_is_never_released():
    assert "birthdate" not in user_claims(citizen(birthdate_verified=False), ["profile"], SUB)


def test_a_claim_the_account_has_no_value_for_is_left_out():
    claims = user_claims(citizen(email=None, phones=[]), ["phone", "email"], SUB)
    assert claims == {"sub": SUB}


def test_a_citizen_has_no_organisation_claims():
    values = claim_values(citizen(tax_code="0101234567"))
    assert not {"tax_code", "organization_name", "budget_code"} & set(values)


def test_an_organisation_is_named_by_its_certificates_organisation_else_its_name():
    assert claim_values(enterprise())["organization_name"] == "CÔNG TY TNHH AN"
    named = claim_values(enterprise(organization="Công ty TNHH An"))
    assert named["organization_name"] == "Công ty TNHH An"
    assert named["tax_code"] == "0101234567" and "cccd" not in named


def test_the_consent_screen_shows_each_claim_in_vietnamese_with_its_value():
    lines = {line.label: line.value
             for line in consent_lines(citizen(), ["openid", "profile", "offline_access"])}
    assert lines["Giới tính"] == "Nam"
    assert lines["Ngày sinh"] == "15/03/1985"
    assert lines["Mức độ định danh"] == "Mức 2"
    assert lines["Loại tài khoản"] == "Công dân"
    assert lines[SCOPES["offline_access"][1]] == "Có"
    assert "Mã định danh tài khoản" not in lines  # the sub is not shown
