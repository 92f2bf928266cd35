"""Certificates from Vietnamese licensed CAs: validation, identity, signatures, CRLs.

Shared by the USB-token and SIM-signature logins. Everything a caller needs is here:

    crls = CrlStore(settings.usb_token.crl_sources, base_dir=settings.base_dir)
    identity = verify_certificate(cert_der, trusted_roots=roots, intermediates=cas,
                                  crls=crls.crls())
    verify_signature(cert_der, signed_value(origin, challenge), signature, "ES256")

Each check raises CertificateRefused with a stable `reason` and a Vietnamese `message_vi`.
"""

from connectors.pki.crls import CrlStore
from connectors.pki.identity import CertificateIdentity, read_identity
from connectors.pki.refusals import MESSAGES_VI, CertificateRefused
from connectors.pki.signatures import (
    ALGORITHMS,
    new_challenge,
    signed_value,
    verify_signature,
    web_origin,
)
from connectors.pki.validation import load_certificates, parse_certificate, verify_certificate

__all__ = [
    "ALGORITHMS",
    "MESSAGES_VI",
    "CertificateIdentity",
    "CertificateRefused",
    "CrlStore",
    "load_certificates",
    "new_challenge",
    "parse_certificate",
    "read_identity",
    "signed_value",
    "web_origin",
    "verify_certificate",
    "verify_signature",
]
