"""Identity read from Vietnamese certificate subjects: UID prefixes, organizationIdentifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from stdnum.vn import mst

from connectors.pki import CertificateIdentity, CertificateRefused, parse_certificate, read_identity
from connectors.testpki import (
    AGENCY_TAX_CODE,
    ENTERPRISE_TAX_CODE,
    new_key,
    subject_name,
)

COMPANY = "Công ty Cổ phần Thử Nghiệm"


@pytest.fixture(scope="module")
def identity_of(issuing_ca):
    key = new_key("ec")
    now = datetime.now(UTC)

    def identity_of(common_name: str = "Lê Văn Cường", **subject) -> CertificateIdentity:
        certificate = issuing_ca.issue(subject_name(common_name, **subject), key.public_key(),
                                       not_before=now, not_after=now + timedelta(days=1))
        return read_identity(parse_certificate(
            certificate.public_bytes(serialization.Encoding.DER)))

    return identity_of


def refusal(identity_of, **subject) -> str:
    with pytest.raises(CertificateRefused) as refused:
        identity_of(**subject)
    return refused.value.reason


def test_test_pki_tax_codes_pass_the_checksum():
    assert mst.is_valid(ENTERPRISE_TAX_CODE) and mst.is_valid(AGENCY_TAX_CODE)


def test_cccd_makes_a_citizen(identity_of):
    identity = identity_of(uids=("CCCD:001090001234",))
    assert (identity.kind, identity.cccd, identity.cmnd) == ("citizen", "001090001234", None)
    assert identity.common_name == "Lê Văn Cường"


def test_prefix_case_and_spaces_are_tolerated(identity_of):
    assert identity_of(uids=("cccd: 001 090 001 234",)).cccd == "001090001234"


@pytest.mark.parametrize("cmnd", ["025123456", "001090001234"])
def test_old_identity_card_alone_makes_a_citizen(identity_of, cmnd):
    identity = identity_of(uids=(f"CMND:{cmnd}",))
    assert (identity.kind, identity.cmnd, identity.cccd) == ("citizen", cmnd, None)


def test_passport_makes_a_citizen(identity_of):
    identity = identity_of(uids=("HC:c1234567",))
    assert (identity.kind, identity.passport) == ("citizen", "C1234567")


def test_several_uids_are_all_read(identity_of):
    identity = identity_of(uids=("CCCD:079195000123", "CMND:025123456", "HC:B7654321"))
    assert (identity.cccd, identity.cmnd, identity.passport) == (
        "079195000123", "025123456", "B7654321")


def test_same_number_twice_is_fine(identity_of):
    assert identity_of(uids=("CCCD:001090001234", "CCCD:001090001234")).cccd == "001090001234"


@pytest.mark.parametrize("uids", [
    ("CCCD:001090001234", "CCCD:079195000123"),
    (f"MST:{ENTERPRISE_TAX_CODE}", f"MST:{AGENCY_TAX_CODE}"),
])
def test_two_different_numbers_of_one_kind_conflict(identity_of, uids):
    assert refusal(identity_of, uids=uids) == "conflicting_identity"


@pytest.mark.parametrize("uid", [
    "CCCD:00109000123",      # 11 digits
    "CCCD:999090001234",     # no such province
    "CMND:02512345",         # 8 digits
    "HC:C1",                 # too short for a passport number
    "MST:0312345670",        # wrong check digit
    "MST:12345",
    "MNS:12345",             # budget codes have 7 digits
])
def test_invalid_number_is_refused_even_beside_a_good_one(identity_of, uid):
    assert refusal(identity_of, uids=(uid,)) == "no_identity"
    assert refusal(identity_of, uids=("CCCD:001090001234", uid)) == "no_identity"


def test_enterprise_by_tax_code(identity_of):
    identity = identity_of(COMPANY, uids=(f"MST:{ENTERPRISE_TAX_CODE}",), organization=COMPANY)
    assert (identity.kind, identity.tax_code, identity.organization) == (
        "enterprise", ENTERPRISE_TAX_CODE, COMPANY)


def test_branch_tax_code_keeps_its_suffix(identity_of):
    identity = identity_of(COMPANY, uids=(f"MST:{ENTERPRISE_TAX_CODE}001",), organization=COMPANY)
    assert identity.tax_code == f"{ENTERPRISE_TAX_CODE}-001"


def test_tax_code_from_organization_identifier(identity_of):
    identity = identity_of(COMPANY, organization_identifier=f"VATVN-{ENTERPRISE_TAX_CODE}")
    assert (identity.kind, identity.tax_code) == ("enterprise", ENTERPRISE_TAX_CODE)
    assert identity.organization_identifier == f"VATVN-{ENTERPRISE_TAX_CODE}"


def test_organization_identifier_must_agree_with_the_uid(identity_of):
    assert refusal(identity_of, common_name=COMPANY, uids=(f"MST:{ENTERPRISE_TAX_CODE}",),
                   organization_identifier=f"VATVN-{AGENCY_TAX_CODE}") == "conflicting_identity"


def test_organization_identifier_with_bad_checksum_is_refused(identity_of):
    assert refusal(identity_of, common_name=COMPANY,
                   organization_identifier="VATVN-0312345670") == "no_identity"


def test_foreign_organization_identifier_is_kept_but_not_a_tax_code(identity_of):
    identity = identity_of(COMPANY, uids=(f"MST:{ENTERPRISE_TAX_CODE}",),
                           organization_identifier="VATDE-123456789")
    assert (identity.tax_code, identity.organization_identifier) == (
        ENTERPRISE_TAX_CODE, "VATDE-123456789")


def test_person_with_own_tax_code_stays_a_citizen(identity_of):
    identity = identity_of(uids=("CCCD:001090001234", f"MST:{AGENCY_TAX_CODE}"))
    assert (identity.kind, identity.tax_code) == ("citizen", AGENCY_TAX_CODE)


def test_employee_certificate_is_the_enterprise_s(identity_of):
    identity = identity_of(uids=("CCCD:001090001234", f"MST:{ENTERPRISE_TAX_CODE}"),
                           organization=COMPANY)
    assert (identity.kind, identity.cccd, identity.tax_code) == (
        "enterprise", "001090001234", ENTERPRISE_TAX_CODE)


def test_budget_code_makes_an_agency(identity_of):
    identity = identity_of("Sở Tư pháp", uids=("MNS:1085326", f"MST:{AGENCY_TAX_CODE}"),
                           organization="Ủy ban nhân dân tỉnh Thử Nghiệm")
    assert (identity.kind, identity.budget_code, identity.tax_code) == (
        "agency", "1085326", AGENCY_TAX_CODE)


@pytest.mark.parametrize("uids", [(), ("KH:12345",), ("001090001234",)])
def test_no_known_identity_is_refused(identity_of, uids):
    # Unknown prefixes (a CA's own customer numbers) and bare values name nobody.
    assert refusal(identity_of, uids=uids) == "no_identity"


def test_unknown_prefix_beside_a_cccd_is_ignored(identity_of):
    assert identity_of(uids=("KH:12345", "CCCD:001090001234")).cccd == "001090001234"


def test_birth_date_vouched_for_by_the_ca_is_read(issuing_ca):
    from datetime import date

    key = new_key("ec")
    now = datetime.now(UTC)
    certificate = issuing_ca.issue(subject_name("Lê Văn Cường", uids=("CCCD:001090001234",)),
                                   key.public_key(), not_before=now,
                                   not_after=now + timedelta(days=1), birthdate=date(1990, 2, 28))
    identity = read_identity(parse_certificate(
        certificate.public_bytes(serialization.Encoding.DER)))
    assert identity.birthdate == date(1990, 2, 28)


def test_no_birth_date_unless_the_ca_put_one(identity_of):
    assert identity_of(uids=("CCCD:001090001234",)).birthdate is None
