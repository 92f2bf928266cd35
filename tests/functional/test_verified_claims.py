"""OpenID Connect for Identity Assurance: verified_claims with the evidence behind each
account, released only as the scope or a `claims` request the client is allowed says."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from idp.accounts import create_account, validate_new_account
from idp.store.models import AccountCertificate
from tests.conftest import Flow, last_otp, make_person, query

SCOPES = ["openid", "profile", "phone", "cccd", "verified_claims", "offline_access"]
VERIFIED_NAME = {"verified_claims": {"verification": {"trust_framework": None,
                                                      "evidence": None},
                                     "claims": {"name": None, "cccd": None}}}


@pytest.fixture
def citizen(app, provider):
    """A citizen registered through BHXH, later given a USB-token certificate."""
    person = make_person(5)
    raw = {k: getattr(person, k) for k in
           ("cccd", "full_name", "birthdate", "gender", "phone", "email")}
    with app.app_context():
        session = provider.db.session
        account = create_account(session, validate_new_account(raw, person.password, 0),
                                 person.password, provider.passwords, verified_by="bhxh")
        account.certificates.append(AccountCertificate(
            kind="usb", sha256_fingerprint="ab" * 32, serial_hex="5a17e0c0ffee",
            issuer="VNPT-CA SHA-256", cccd=person.cccd,
            not_before=datetime(2025, 1, 1, tzinfo=UTC),
            not_after=datetime.now(UTC) + timedelta(days=365)))
        session.commit()
    return person


def payload(jws: str) -> dict:
    part = jws.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def userinfo(flow: Flow, person, **params) -> dict:
    tokens = flow.exchange(flow.login(person, **params)).get_json()
    answer = flow.browser.get("/userinfo",
                              headers={"Authorization": f"Bearer {tokens['access_token']}"})
    return {"userinfo": answer.get_json(), "id_token": payload(tokens["id_token"])}


def test_scope_releases_verified_claims_with_their_evidence(browser, settings, make_portal,
                                                            citizen):
    flow = Flow(browser, settings, make_portal(scopes=SCOPES))
    verified = userinfo(flow, citizen, scope="openid profile verified_claims")["userinfo"][
        "verified_claims"]
    verification = verified["verification"]
    assert verification["trust_framework"] == "vn_sso"
    assert verification["assurance_level"] == "ial2"
    kinds = sorted(item["type"] for item in verification["evidence"])
    assert kinds == ["electronic_record", "electronic_signature"]
    record = next(e for e in verification["evidence"] if e["type"] == "electronic_record")
    assert record["record"]["source"]["name"] == "Bảo hiểm xã hội Việt Nam"
    signature = next(e for e in verification["evidence"] if e["type"] == "electronic_signature")
    assert signature["issuer"] == "VNPT-CA SHA-256"
    assert signature["serial_number"] == "5a17e0c0ffee"
    assert signature["valid_from"] == "2025-01-01T00:00:00Z" and signature["valid_until"]
    # Only what the granted scopes carry: profile, not cccd.
    assert verified["claims"] == {"name": citizen.full_name, "birthdate": citizen.birthdate,
                                  "gender": "male"}


def test_not_released_to_a_portal_not_registered_for_them(browser, settings, make_portal,
                                                          citizen):
    flow = Flow(browser, settings, make_portal())  # no verified_claims scope
    answer = userinfo(flow, citizen, scope="openid profile verified_claims",
                      claims=json.dumps({"userinfo": VERIFIED_NAME, "id_token": VERIFIED_NAME}))
    assert "verified_claims" not in answer["userinfo"]
    assert "verified_claims" not in answer["id_token"]


def test_claims_request_releases_only_what_it_names(browser, settings, make_portal, citizen):
    flow = Flow(browser, settings, make_portal(scopes=SCOPES))
    request = {"verified_claims": {"verification": {"trust_framework": {"value": "vn_sso"}},
                                   "claims": {"cccd": None, "tax_code": None}}}
    answer = userinfo(flow, citizen, scope="openid",
                      claims=json.dumps({"id_token": request, "userinfo": VERIFIED_NAME}))
    in_id_token = answer["id_token"]["verified_claims"]
    assert in_id_token["claims"] == {"cccd": citizen.cccd}  # no tax code: a citizen
    assert in_id_token["verification"] == {"trust_framework": "vn_sso"}  # nothing else asked
    at_userinfo = answer["userinfo"]["verified_claims"]
    assert at_userinfo["claims"] == {"name": citizen.full_name, "cccd": citizen.cccd}
    assert len(at_userinfo["verification"]["evidence"]) == 2
    assert "name" not in answer["userinfo"]  # the plain claim was not asked for


def test_another_trust_framework_gets_nothing(browser, settings, make_portal, citizen):
    flow = Flow(browser, settings, make_portal(scopes=SCOPES))
    request = {"verified_claims": {"verification": {"trust_framework": {"value": "eidas"}},
                                   "claims": {"name": None}}}
    answer = userinfo(flow, citizen, scope="openid", claims=json.dumps({"userinfo": request}))
    assert "verified_claims" not in answer["userinfo"]


def test_counter_registration_evidence_on_the_consent_page(app, provider, browser, settings,
                                                           make_portal):
    person = make_person(6)
    raw = {k: getattr(person, k) for k in
           ("cccd", "full_name", "birthdate", "gender", "phone", "email")}
    with app.app_context():
        create_account(provider.db.session, validate_new_account(raw, person.password, 0),
                       person.password, provider.passwords, verified_by="counter",
                       evidence={"staff": "canbo.motcua", "document": "cccd",
                                 "organization": "Bộ phận một cửa UBND phường Hàng Trống"})
    flow = Flow(browser, settings, make_portal(scopes=SCOPES))
    response, *_ = flow.authorize(scope="openid profile verified_claims")
    location = response.headers["Location"]
    tx = query(location)["tx"]
    flow.submit_password(location, person.cccd, person.password)
    done = flow.submit_otp(tx, last_otp(settings))
    consent = flow.browser.get(done.headers["Location"])
    page = consent.get_data(as_text=True)
    assert "khung tin cậy vn_sso" in page
    assert "Kiểm tra trực tiếp thẻ Căn cước / CCCD tại Bộ phận một cửa UBND phường Hàng Trống" \
        in page
    assert "cán bộ canbo.motcua" in page
    evidence = userinfo(flow, person, scope="openid profile verified_claims")["userinfo"][
        "verified_claims"]["verification"]["evidence"]
    assert evidence[0]["type"] == "document"
    assert evidence[0]["check_details"][0]["txn"] == "staff:canbo.motcua"


def test_discovery_advertises_identity_assurance(browser):
    metadata = browser.get("/.well-known/openid-configuration").get_json()
    assert metadata["verified_claims_supported"] is True
    assert metadata["trust_frameworks_supported"] == ["vn_sso"]
    assert set(metadata["evidence_supported"]) == {"electronic_record", "document",
                                                   "electronic_signature"}
    assert "cccd" in metadata["claims_in_verified_claims_supported"]
    assert "verified_claims" in metadata["scopes_supported"]
    assert metadata["claims_parameter_supported"] is True
