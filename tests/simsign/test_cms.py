"""The verification code formula and the CMS checks (without HTTP), and the simulator's CLI."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
import requests

from connectors.mssp import verification_code, verify_cms
from connectors.pki import CertificateRefused
from connectors.simulators.mssp import Sim, main, sign_cms
from connectors.testpki import new_key
from tests.simsign.conftest import API_KEY

DIGEST = hashlib.sha256(b"login request").digest()


@pytest.mark.parametrize(("first", "last", "code"), [
    (0x00, 0x00, "0000"), (0xFF, 0xFF, "8191"), (0x03, 0x80, "0000"),
    (0x04, 0x01, "0129"), (0xA8, 0x35, "5429"),
])
def test_verification_code_takes_6_first_and_7_last_bits(first, last, code):
    assert verification_code(bytes([first]) + bytes(30) + bytes([last])) == code


def _anchors(pki) -> dict[str, list[bytes]]:
    return {key: [Path(path).read_bytes() for path in paths]
            for key, paths in pki.usb_token_settings().items()}


def _verify(pki, cms: bytes, digest: bytes = DIGEST, certificate: bytes | None = None):
    anchors = _anchors(pki)
    return verify_cms(cms, digest, certificate=certificate,
                      trusted_roots=anchors["trusted_roots"],
                      intermediates=anchors["intermediates"], crls=anchors["crl_sources"])


@pytest.mark.parametrize(("name", "kind"), [
    ("citizen-rsa", "citizen"), ("citizen-ec", "citizen"), ("enterprise", "enterprise"),
])
def test_good_signature_gives_the_certificate_identity(usb_pki, name, kind):
    sim = Sim(usb_pki.key(name), usb_pki.der(name))
    identity = _verify(usb_pki, sign_cms(sim, DIGEST), certificate=sim.certificate)
    assert identity.kind == kind


def _refusal(pki, *args, **kwargs) -> str:
    with pytest.raises(CertificateRefused) as caught:
        _verify(pki, *args, **kwargs)
    return caught.value.reason


def test_signature_over_another_hash_is_refused(usb_pki):
    sim = Sim(usb_pki.key("citizen-rsa"), usb_pki.der("citizen-rsa"))
    other = hashlib.sha256(b"another request").digest()
    assert _refusal(usb_pki, sign_cms(sim, other)) == "bad_signature"


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_signature_by_another_key_is_refused(usb_pki, kind):
    name = "citizen-rsa" if kind == "rsa" else "citizen-ec"
    sim = Sim(new_key(kind), usb_pki.der(name))
    assert _refusal(usb_pki, sign_cms(sim, DIGEST)) == "bad_signature"


def test_certificate_beside_the_cms_must_be_the_signer(usb_pki):
    sim = Sim(usb_pki.key("citizen-rsa"), usb_pki.der("citizen-rsa"))
    assert _refusal(usb_pki, sign_cms(sim, DIGEST),
                    certificate=usb_pki.der("citizen-ec")) == "bad_signature"


@pytest.mark.parametrize("cms", [b"", b"\x30\x03\x02\x01\x01", b"not a cms" * 10,
                                 bytes(40 * 1024)])
def test_malformed_cms_is_refused(usb_pki, cms):
    assert _refusal(usb_pki, cms) == "malformed"


def test_truncated_cms_is_refused(usb_pki):
    sim = Sim(usb_pki.key("citizen-rsa"), usb_pki.der("citizen-rsa"))
    assert _refusal(usb_pki, sign_cms(sim, DIGEST)[:-40]) == "malformed"


@pytest.mark.parametrize("name", ["expired", "revoked", "untrusted", "no-digital-signature"])
def test_bad_certificate_is_refused(usb_pki, name):
    sim = Sim(usb_pki.key(name), usb_pki.der(name))
    expected = usb_pki.manifest["certificates"][name]["expected"]
    assert _refusal(usb_pki, sign_cms(sim, DIGEST)) == expected


def test_control_cli_answers_for_the_phone(mssp, capsys):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    started = requests.post(f"{mssp.url}/v1/signature", headers=headers, timeout=5, json={
        "phone": "+84900000003", "hash": base64.b64encode(DIGEST).decode(),
        "hash_type": "SHA256", "display_text": "CLI"}).json()
    assert main(["show", "+84900000003", "--url", mssp.url, "--api-key", API_KEY]) == 0
    assert verification_code(DIGEST) in capsys.readouterr().out
    assert main(["cancel", "+84900000003", "--url", mssp.url, "--api-key", API_KEY]) == 0
    state = requests.get(f"{mssp.url}/v1/session/{started['session_id']}?timeout_ms=0",
                         headers=headers, timeout=5).json()
    assert state == {"state": "COMPLETE", "result": "USER_CANCELLED"}
