"""Signature checks (RS256, PS256, ES256), the Web eID signed value and challenges."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from connectors.pki import CertificateRefused, new_challenge, signed_value, verify_signature
from connectors.testpki import subject_name

ORIGIN = "https://sso.dichvucong.test"
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def sign(key, data: bytes, algorithm: str) -> bytes:
    if algorithm == "RS256":
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if algorithm == "PS256":
        return key.sign(data, PSS, hashes.SHA256())
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def raw_ecdsa(der_signature: bytes) -> bytes:
    r, s = decode_dss_signature(der_signature)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def reason(call, *args) -> str:
    with pytest.raises(CertificateRefused) as refused:
        call(*args)
    return refused.value.reason


@pytest.fixture(scope="module")
def value() -> bytes:
    return signed_value(ORIGIN, new_challenge())


@pytest.mark.parametrize(("name", "algorithm"), [
    ("citizen-rsa", "RS256"), ("citizen-rsa", "PS256"), ("citizen-ec", "ES256"),
    ("enterprise", "RS256"), ("agency", "ES256"),
])
def test_good_signature_is_accepted_and_any_change_refused(pki, value, name, algorithm):
    signature = sign(pki.key(name), value, algorithm)
    verify_signature(pki.der(name), value, signature, algorithm)
    tampered = value[:-1] + bytes([value[-1] ^ 1])
    assert reason(verify_signature, pki.der(name), tampered, signature, algorithm) == (
        "bad_signature")


def test_raw_ecdsa_signature_as_web_eid_sends_it(pki, value):
    signature = raw_ecdsa(sign(pki.key("citizen-ec"), value, "ES256"))
    assert len(signature) == 64
    verify_signature(pki.der("citizen-ec"), value, signature, "ES256")


def test_pss_salt_length_of_the_token_is_accepted(pki, value):
    # Tokens differ: some use a zero-length salt, others the digest length.
    signature = pki.key("citizen-rsa").sign(
        value, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=0), hashes.SHA256())
    verify_signature(pki.der("citizen-rsa"), value, signature, "PS256")


@pytest.mark.parametrize(("cert", "signer", "algorithm"), [
    ("citizen-rsa", "enterprise", "RS256"),
    ("citizen-rsa", "enterprise", "PS256"),
    ("citizen-ec", "agency", "ES256"),
])
def test_signature_by_another_key_is_refused(pki, value, cert, signer, algorithm):
    signature = sign(pki.key(signer), value, algorithm)
    assert reason(verify_signature, pki.der(cert), value, signature, algorithm) == "bad_signature"


def test_pkcs1_signature_is_not_accepted_as_pss(pki, value):
    signature = sign(pki.key("citizen-rsa"), value, "RS256")
    assert reason(verify_signature, pki.der("citizen-rsa"), value, signature, "PS256") == (
        "bad_signature")


@pytest.mark.parametrize(("name", "algorithm"), [
    ("citizen-rsa", "ES256"), ("citizen-ec", "RS256"), ("citizen-ec", "PS256"),
    ("citizen-rsa", "HS256"), ("citizen-rsa", "none"), ("citizen-rsa", "rs256"),
])
def test_algorithm_that_does_not_fit_the_key_is_refused(pki, value, name, algorithm):
    signature = sign(pki.key(name), value, "ES256" if name == "citizen-ec" else "RS256")
    assert reason(verify_signature, pki.der(name), value, signature, algorithm) == (
        "unsupported_algorithm")


@pytest.mark.parametrize(("key", "algorithm"), [
    (lambda: ec.generate_private_key(ec.SECP384R1()), "ES256"),
    (lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505
     "RS256"),
    (ed25519.Ed25519PrivateKey.generate, "ES256"),
], ids=["p384", "rsa1024", "ed25519"])
def test_key_too_weak_or_of_another_kind_is_refused(issuing_ca, value, key, algorithm):
    now = datetime.now(UTC)
    certificate = issuing_ca.issue(subject_name("Nguyễn Văn An"), key().public_key(),
                                   not_before=now, not_after=now + timedelta(days=1))
    der = certificate.public_bytes(serialization.Encoding.DER)
    assert reason(verify_signature, der, value, b"\x00" * 64, algorithm) == (
        "unsupported_algorithm")


# Fixed "random" bytes: every test process must collect the same tests.
@pytest.mark.parametrize("signature", [
    b"", b"\x00", hashlib.shake_256(b"noise").digest(64), hashlib.shake_256(b"noise").digest(256),
    b"\x30\x06\x02\x01\x01\x02\x01", b"\x30" * 80])
@pytest.mark.parametrize(("name", "algorithm"), [
    ("citizen-rsa", "RS256"), ("citizen-rsa", "PS256"), ("citizen-ec", "ES256")])
def test_garbage_signature_is_refused_cleanly(pki, value, name, algorithm, signature):
    assert reason(verify_signature, pki.der(name), value, signature, algorithm) == (
        "bad_signature")


def test_truncated_signature_is_refused(pki, value):
    signature = sign(pki.key("citizen-ec"), value, "ES256")
    for cut in (1, 8, len(signature) - 1):
        assert reason(verify_signature, pki.der("citizen-ec"), value, signature[:cut],
                      "ES256") == "bad_signature"


@pytest.mark.parametrize("cert", [b"", b"garbage", b"\x30\x03\x02\x01\x01"])
def test_garbage_certificate_is_malformed(value, cert):
    assert reason(verify_signature, cert, value, b"\x00" * 64, "ES256") == "malformed"


def test_truncated_certificate_is_malformed(pki, value):
    der = pki.der("citizen-ec")
    for cut in (10, len(der) // 2, len(der) - 1):
        assert reason(verify_signature, der[:cut], value, b"\x00" * 64, "ES256") == "malformed"


def test_signed_value_is_hash_of_origin_then_hash_of_challenge():
    value = signed_value(ORIGIN, "abc")
    assert value == hashlib.sha256(ORIGIN.encode()).digest() + hashlib.sha256(b"abc").digest()
    assert signed_value("https://evil.test", "abc") != value
    assert signed_value(ORIGIN, "abd") != value


def test_challenge_is_256_random_bits_base64url():
    challenges = {new_challenge() for _ in range(100)}
    assert len(challenges) == 100
    for challenge in challenges:
        assert len(base64.urlsafe_b64decode(challenge + "=")) == 32
        assert set(challenge) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
