"""scripts/softhsm-tokens.sh puts the test keys on SoftHSM tokens that sign like USB tokens.

The signing runs in a child process: python-pkcs11 initialises a PKCS#11 library once per
process, and this test needs its own SOFTHSM2_CONF whatever else the test run loaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.pki import CertificateRefused, new_challenge, signed_value, verify_signature
from connectors.testpki import generate

REPO = Path(__file__).resolve().parents[2]
MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")

pytestmark = pytest.mark.skipif(
    shutil.which("softhsm2-util") is None or not MODULE.exists(),
    reason="SoftHSM 2 is not installed (scripts/bootstrap.sh --softhsm installs it)",
)

# Sign with each token's private key, found by the CKA_ID shared with its certificate.
SIGNER = """
import hashlib, json, sys
import pkcs11
from pkcs11 import MGF, Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import PinIncorrect

tokens, data = json.load(open(sys.argv[1])), bytes.fromhex(sys.argv[2])
library = pkcs11.lib(tokens["module"])
out = {}
for name, info in tokens["tokens"].items():
    token = library.get_token(token_label=info["label"])
    try:
        token.open(user_pin="000000").close()
        wrong_pin = "accepted"
    except PinIncorrect:
        wrong_pin = "refused"
    with token.open(user_pin=tokens["user_pin"]) as session:
        key_id = bytes.fromhex(info["key_id"])
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
        cert = next(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE,
                                         Attribute.ID: key_id}))
        if key.key_type == KeyType.RSA:
            signatures = {
                "RS256": key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS),
                "PS256": key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS_PSS,
                                  mechanism_param=(Mechanism.SHA256, MGF.SHA256, 32)),
            }
        else:  # CKM_ECDSA signs a digest and returns raw r || s
            signatures = {"ES256": key.sign(hashlib.sha256(data).digest(),
                                            mechanism=Mechanism.ECDSA)}
        out[name] = {"wrong_pin": wrong_pin, "extractable": key[Attribute.EXTRACTABLE],
                     "cert": cert[Attribute.VALUE].hex(),
                     "signatures": {alg: sig.hex() for alg, sig in signatures.items()}}
print(json.dumps(out))
"""


def test_tokens_sign_values_that_verify(tmp_path):
    generate(tmp_path)
    env = {**os.environ}
    env.pop("SOFTHSM2_CONF", None)
    setup = subprocess.run([REPO / "scripts" / "softhsm-tokens.sh", tmp_path], env=env,
                           capture_output=True, text=True, timeout=60)
    assert setup.returncode == 0, setup.stderr
    assert "importing keys and certificates" in setup.stdout
    conf = tmp_path / "softhsm" / "softhsm2.conf"
    assert f"directories.tokendir = {tmp_path}/softhsm/tokens" in conf.read_text()

    origin = "https://sso.dichvucong.test"
    value = signed_value(origin, new_challenge())
    signer = subprocess.run(
        [sys.executable, "-c", SIGNER, tmp_path / "softhsm" / "tokens.json", value.hex()],
        env={**env, "SOFTHSM2_CONF": str(conf)}, capture_output=True, text=True, timeout=60)
    assert signer.returncode == 0, signer.stderr
    tokens = json.loads(signer.stdout)
    key_types = {name: info["key_type"] for name, info in json.loads(
        (tmp_path / "softhsm" / "tokens.json").read_text())["tokens"].items()}

    assert set(tokens) == {"citizen-rsa", "citizen-ec", "enterprise", "agency"}
    for name, token in tokens.items():
        cert_der = (tmp_path / f"{name}.der").read_bytes()
        assert (token["wrong_pin"], token["extractable"]) == ("refused", False)
        assert bytes.fromhex(token["cert"]) == cert_der
        assert set(token["signatures"]) == (
            {"ES256"} if key_types[name] == "ec" else {"RS256", "PS256"})
        for algorithm, signature in token["signatures"].items():
            verify_signature(cert_der, value, bytes.fromhex(signature), algorithm)
            # The same signature must not pass for another challenge.
            with pytest.raises(CertificateRefused):
                verify_signature(cert_der, signed_value(origin, new_challenge()),
                                 bytes.fromhex(signature), algorithm)


def test_script_explains_a_missing_pki(tmp_path):
    result = subprocess.run([REPO / "scripts" / "softhsm-tokens.sh", tmp_path],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "python -m connectors.testpki" in result.stderr
