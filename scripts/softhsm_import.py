"""Import test-PKI keys and certificates into SoftHSM tokens; run by softhsm-tokens.sh.

    softhsm_import.py MODULE PKI_DIR USER_PIN NAME...

Each NAME is a certificate of PKI_DIR/manifest.json and the label of an initialised
token; its private key (non-extractable, sign only) and certificate share one CKA_ID,
the certificate's subject key identifier, as on a CA-issued USB token.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pkcs11 import Attribute
from pkcs11.util.ec import decode_ec_private_key
from pkcs11.util.rsa import decode_rsa_private_key
from pkcs11.util.x509 import decode_x509_certificate


def import_identity(session: pkcs11.Session, name: str, key_pem: bytes, cert_der: bytes) -> str:
    """Store one key and its certificate; return the CKA_ID as hex."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    certificate = x509.load_der_x509_certificate(cert_der)
    key_id = certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier).value.digest
    # PKCS#1 / SEC 1 DER is what python-pkcs11's decoders read.
    traditional = key.private_bytes(serialization.Encoding.DER,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
    decode = decode_rsa_private_key if isinstance(key, rsa.RSAPrivateKey) else decode_ec_private_key
    attributes = decode(traditional)
    attributes.update({
        Attribute.LABEL: name, Attribute.ID: key_id, Attribute.TOKEN: True,
        Attribute.PRIVATE: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
        Attribute.SIGN: True, Attribute.DECRYPT: False, Attribute.UNWRAP: False,
    })
    session.create_object(attributes)
    session.create_object({**decode_x509_certificate(cert_der), Attribute.LABEL: name,
                           Attribute.ID: key_id, Attribute.TOKEN: True})
    return key_id.hex()


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    module, pki_dir, pin, names = argv[0], Path(argv[1]), argv[2], argv[3:]
    manifest = json.loads((pki_dir / "manifest.json").read_text(encoding="utf-8"))
    library = pkcs11.lib(module)
    tokens = {}
    for name in names:
        entry = manifest["certificates"][name]
        token = library.get_token(token_label=name)
        with token.open(rw=True, user_pin=pin) as session:
            key_id = import_identity(session, name, (pki_dir / entry["key"]).read_bytes(),
                                     (pki_dir / entry["der"]).read_bytes())
        tokens[name] = {"label": name, "key_id": key_id, "key_type": entry["key_type"]}
        print(f"    {name}: key and certificate imported (CKA_ID {key_id[:16]}...)")
    (pki_dir / "softhsm" / "tokens.json").write_text(
        json.dumps({"module": module, "user_pin": pin, "tokens": tokens}, indent=2) + "\n",
        encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
