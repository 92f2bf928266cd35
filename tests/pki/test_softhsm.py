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
import json, sys
import pkcs11
from pkcs11 import MGF, Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import PinIncorrect

tokens, data = json.load(open(sys.argv[1])), bytes.fromhex(sys.argv[2])
library = pkcs11.lib(tokens["module"])
out = {}
for name, token_info in tokens["tokens"].items():
    token = library.get_token(token_label=token_info["label"])
    try:
        token.open(user_pin="000000")
        out[name + ":wrong_pin"] = "accepted"
    except PinIncorrect:
        out[name + ":wrong_pin"] = "refused"
    with token.open(user_pin=tokens["user_pin"]) as session:
        key_id = bytes.fromhex(token_info["key_id"])
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
        cert = next(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE,
                                         Attribute.ID: key_id}))
        out[name + ":cert"] = cert[Attribute.VALUE].hex()
        out[name + ":extractable"] = key[Attribute.EXTRACTABLE]
        if key.key_type == KeyType.RSA:
            out[name + ":RS256"] = key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS).hex()
            out[name + ":PS256"] = key.sign(
                data, mechanism=Mechanism.SHA256_RSA_PKCS_PSS,
                mechanism_param=(Mechanism.SHA256, MGF.SHA256, 32)).hex()
        else:
            import hashlib
            digest = hashlib.sha256(data).digest()
            out[name + ":ES256"] = key.sign(digest, mechanism=Mechanism.ECDSA).hex()
print(json.dumps(out))
"""


def test_tokens_sign_values_that_verify(tmp_path, pki):
    generate(tmp_path)
    env = {**os.environ}
    env.pop("SOFTHSM2_CONF", None)
    setup = subprocess.run([REPO / "scripts" / "softhsm-tokens.sh", tmp_path], env=env,
                           capture_output=True, text=True, timeout=60)
    assert setup.returncode == 0, setup.stderr
    assert "importing keys and certificates" in setup.stdout

    conf = tmp_path / "softhsm" / "softhsm2.conf"
    assert f"directories.tokendir = {tmp_path}/softhsm/tokens" in conf.read_text()
    value = signed_value("https://sso.dichvucong.test", new_challenge())
    signer = subprocess.run(
        [sys.executable, "-c", SIGNER, tmp_path / "softhsm" / "tokens.json", value.hex()],
        env={**env, "SOFTHSM2_CONF": str(conf)}, capture_output=True, text=True, timeout=60)
    assert signer.returncode == 0, signer.stderr
    results = json.loads(signer.stdout)

    signed = {key.split(":")[0]: key.split(":")[1] for key in results
              if key.split(":")[1] in ("RS256", "PS256", "ES256")}
    assert set(signed) == {"citizen-rsa", "citizen-ec", "enterprise", "agency"}
    for key, hex_value in results.items():
        name, what = key.split(":")
        if what == "wrong_pin":
            assert hex_value == "refused"
        elif what == "extractable":
            assert hex_value is False
        elif what == "cert":
            assert bytes.fromhex(hex_value) == (tmp_path / f"{name}.der").read_bytes()
        else:
            cert_der = (tmp_path / f"{name}.der").read_bytes()
            verify_signature(cert_der, value, bytes.fromhex(hex_value), what)
            # The same signature must not pass for another challenge.
            with pytest.raises(CertificateRefused):
                verify_signature(cert_der, signed_value("https://sso.dichvucong.test", "x"),
                                 bytes.fromhex(hex_value), what)


def test_script_explains_a_missing_pki(tmp_path):
    result = subprocess.run([REPO / "scripts" / "softhsm-tokens.sh", tmp_path],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "python -m connectors.testpki" in result.stderr
