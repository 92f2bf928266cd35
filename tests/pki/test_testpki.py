"""The test PKI generator and its command line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from connectors.testpki import END_ENTITIES, LICENSED_CA_NAME, ROOT_NAME, generate

OUTCOMES = {"ok", "expired", "not_yet_valid", "key_usage", "untrusted", "revoked"}


def test_cli_writes_every_file_named_in_the_manifest(tmp_path):
    result = subprocess.run([sys.executable, "-m", "connectors.testpki", tmp_path / "pki"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    directory = tmp_path / "pki"
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["certificates"]) == {entity.name for entity in END_ENTITIES}
    paths = manifest["trusted_roots"] + manifest["intermediates"] + manifest["crls"]
    for entry in manifest["certificates"].values():
        paths += [entry["pem"], entry["der"], entry["key"]]
        assert entry["expected"] in OUTCOMES
        assert entry["identity"]["kind"] in {"citizen", "enterprise", "agency"}
    assert all((directory / path).is_file() for path in paths)
    assert {entry["expected"] for entry in manifest["certificates"].values()} == OUTCOMES


def test_cli_without_directory_prints_usage():
    result = subprocess.run([sys.executable, "-m", "connectors.testpki"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "usage" in result.stderr


def test_generation_is_fast(tmp_path):
    started = time.perf_counter()
    generate(tmp_path)
    assert time.perf_counter() - started < 3


def test_chain_has_vietnamese_names_and_crl_points(pki):
    root = x509.load_pem_x509_certificate(pki.read("root.pem"))
    licensed = x509.load_pem_x509_certificate(pki.read("licensed-ca.pem"))
    citizen = x509.load_der_x509_certificate(pki.der("citizen-rsa"))
    common_name = NameOID.COMMON_NAME
    assert root.subject.get_attributes_for_oid(common_name)[0].value == ROOT_NAME
    assert licensed.issuer == root.subject and citizen.issuer == licensed.subject
    assert licensed.subject.get_attributes_for_oid(common_name)[0].value == LICENSED_CA_NAME
    points = citizen.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value.endswith("/licensed-ca.crl")


def test_revoked_certificate_is_on_the_ca_crl_with_next_update(pki):
    crl = x509.load_der_x509_crl(pki.read("licensed-ca.crl"))
    revoked = x509.load_der_x509_certificate(pki.der("revoked"))
    assert crl.get_revoked_certificate_by_serial_number(revoked.serial_number) is not None
    assert len(crl) == 1
    assert crl.next_update_utc > crl.last_update_utc
    assert crl.is_signature_valid(
        x509.load_pem_x509_certificate(pki.read("licensed-ca.pem")).public_key())


def test_subject_carries_several_uids(pki):
    subject = x509.load_der_x509_certificate(pki.der("citizen-ec")).subject
    uids = [attribute.value for attribute in subject.get_attributes_for_oid(NameOID.USER_ID)]
    assert uids == ["CCCD:079195000123", "CMND:025123456"]


def test_keys_are_pkcs8_pem(pki):
    assert all(Path(pki.directory / entry["key"]).read_bytes().startswith(
        b"-----BEGIN PRIVATE KEY-----") for entry in pki.manifest["certificates"].values())
