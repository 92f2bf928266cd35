"""verify_certificate: every test-PKI certificate gives its expected outcome, and why."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import load_der_x509_certificate

from connectors.pki import MESSAGES_VI, CertificateRefused, parse_certificate
from connectors.testpki import END_ENTITIES, LICENSED_CA_NAME


@pytest.mark.parametrize("entity", END_ENTITIES, ids=lambda entity: entity.name)
def test_manifest_certificate_gives_expected_outcome(pki, entity):
    entry = pki.manifest["certificates"][entity.name]
    der = pki.der(entity.name)
    if entry["expected"] != "ok":
        with pytest.raises(CertificateRefused) as refused:
            pki.verify(der)
        assert refused.value.reason == entry["expected"]
        assert refused.value.message_vi == MESSAGES_VI[entry["expected"]]
        return
    identity = pki.verify(der)
    expected = {"cccd": None, "cmnd": None, "passport": None, "tax_code": None,
                "budget_code": None, **entry["identity"]}
    if "birthdate" in expected:  # vouched for by the CA (dateOfBirth)
        expected["birthdate"] = date.fromisoformat(expected["birthdate"])
    assert {field: getattr(identity, field) for field in expected} == expected
    certificate = load_der_x509_certificate(der)
    assert identity.serial_hex == format(certificate.serial_number, "x")
    assert identity.not_after == certificate.not_valid_after_utc
    assert identity.sha256_fingerprint == hashlib.sha256(der).hexdigest()
    assert identity.issuer == LICENSED_CA_NAME


def test_enterprise_names_organisation(pki):
    identity = pki.verify(pki.der("enterprise"))
    assert identity.organization == "Công ty TNHH Phần mềm Sông Hồng"
    assert identity.organization_identifier == "VATVN-0312345673"
    assert identity.common_name == identity.organization


def test_pem_certificate_is_accepted(pki):
    pem = load_der_x509_certificate(pki.der("citizen-ec")).public_bytes(
        serialization.Encoding.PEM)
    assert pki.verify(pem).cccd == "079195000123"


def test_repr_does_not_show_identity_numbers(pki):
    assert "001090001234" not in repr(pki.verify(pki.der("citizen-rsa")))


@pytest.mark.parametrize("crl_index", [0, 1], ids=["without-root-crl", "without-ca-crl"])
def test_missing_crl_is_refused_not_ignored(pki, crl_index):
    crls = [crl for index, crl in enumerate(pki.crls) if index != crl_index]
    with pytest.raises(CertificateRefused) as refused:
        pki.verify(pki.der("citizen-rsa"), crls=crls)
    assert refused.value.reason == "revocation_unavailable"


def test_crl_past_next_update_is_refused(pki):
    later = datetime.now(UTC) + timedelta(days=8)  # the test CRLs are good for 7 days
    with pytest.raises(CertificateRefused) as refused:
        pki.verify(pki.der("citizen-rsa"), at=later)
    assert refused.value.reason == "revocation_unavailable"


def test_checks_happen_at_the_given_moment(pki):
    assert pki.verify(pki.der("citizen-rsa"), at=datetime.now(UTC) + timedelta(days=3))
    # A CRL issued after the moment says nothing about it: no silent acceptance.
    with pytest.raises(CertificateRefused) as refused:
        pki.verify(pki.der("citizen-rsa"), at=datetime.now(UTC) - timedelta(days=1))
    assert refused.value.reason == "revocation_unavailable"


def test_missing_intermediate_means_untrusted(pki):
    with pytest.raises(CertificateRefused) as refused:
        pki.verify(pki.der("citizen-rsa"), intermediates=[])
    assert refused.value.reason == "untrusted"
    assert "001090001234" not in str(refused.value)  # operators' detail names the issuer only


def test_no_trusted_root_configured_refuses(pki):
    with pytest.raises(CertificateRefused) as refused:
        pki.verify(pki.der("citizen-rsa"), trusted_roots=[])
    assert refused.value.reason == "untrusted"


def test_self_signed_certificate_is_untrusted(pki):
    with pytest.raises(CertificateRefused) as refused:
        pki.verify(pki.read("untrusted-root.der"))
    assert refused.value.reason == "untrusted"


def test_ca_certificate_cannot_sign_in(pki):
    with pytest.raises(CertificateRefused) as refused:
        pki.verify(pki.read("licensed-ca.der"))
    assert refused.value.reason == "key_usage"


@pytest.mark.parametrize("data", [b"", b"garbage", b"\x30\x03\x02\x01\x01", b"\x30\x82\xff\xff"])
def test_garbage_is_malformed(pki, data):
    with pytest.raises(CertificateRefused) as refused:
        pki.verify(data)
    assert refused.value.reason == "malformed"


def test_truncated_certificate_is_malformed(pki):
    der = pki.der("citizen-rsa")
    for length in (1, 10, len(der) // 2, len(der) - 1):
        with pytest.raises(CertificateRefused) as refused:
            parse_certificate(der[:length])
        assert refused.value.reason == "malformed"


def test_broken_configured_root_is_an_operator_error(pki):
    with pytest.raises(ValueError, match="configured"):
        pki.verify(pki.der("citizen-rsa"), trusted_roots=[b"not a certificate"])


def test_unknown_reason_is_a_programming_error():
    with pytest.raises(ValueError):
        CertificateRefused("nope")
