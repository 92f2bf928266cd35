"""Checking what a signing page posts: challenge, certificate, signature, and who signed.

The challenge is used up first, so even a malformed post spends it. Then the certificate
is validated (chain to the configured CAs, dates, key usage, CRL) and the signature is
checked over hash(origin) ‖ hash(challenge) computed with this provider's own origin: a
signature made for another site, or for another challenge, does not verify here.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from connectors.pki import (
    CertificateIdentity,
    CertificateRefused,
    signed_value,
    verify_certificate,
    verify_signature,
    web_origin,
)
from idp.certificates.challenges import take_challenge
from idp.certificates.refusals import CertificateLoginRefused
from idp.certificates.trust import trust_anchors
from idp.provider import provider

# A national CA's certificate is 1.5–2.5 kB; a signature at most 512 bytes (RSA 4096).
MAX_CERTIFICATE_BYTES = 16 * 1024
MAX_SIGNATURE_BYTES = 1024


def provider_origin() -> str:
    """This provider's web origin as a browser serialises it (RFC 6454): what is signed."""
    return web_origin(provider().issuer)


@dataclass(frozen=True)
class SignedChallenge:
    """The fields the page posts after the signing agent signed, as received."""

    challenge: str
    certificate: str
    """Base64 DER certificate."""
    signature: str
    """Base64 signature."""
    algorithm: str

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> SignedChallenge:
        """The fields of the posted form."""
        # Cut at generous bounds before decoding: the request body is limited anyway.
        return cls(
            challenge=(form.get("challenge") or "")[:64],
            certificate=(form.get("certificate") or "")[:2 * MAX_CERTIFICATE_BYTES],
            signature=(form.get("signature") or "")[:2 * MAX_SIGNATURE_BYTES],
            algorithm=(form.get("algorithm") or "")[:16],
        )


def _decode(value: str, limit: int, what: str) -> bytes:
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CertificateRefused("malformed", detail=f"{what} is not base64") from None
    if not data or len(data) > limit:
        raise CertificateRefused("malformed", detail=f"{what} is empty or too long")
    return data


def verify_signed_challenge(submission: SignedChallenge, purpose: str,
                            browser: str) -> CertificateIdentity:
    """Check a signed challenge end to end and return the identity of the signer.

    Raises CertificateLoginRefused naming the first check that failed; nothing is written
    except that the challenge is used up.
    """
    take_challenge(submission.challenge, purpose, browser)
    anchors = trust_anchors()
    try:
        certificate = _decode(submission.certificate, MAX_CERTIFICATE_BYTES, "certificate")
        signature = _decode(submission.signature, MAX_SIGNATURE_BYTES, "signature")
        identity = verify_certificate(certificate, trusted_roots=anchors.roots,
                                      intermediates=anchors.intermediates,
                                      crls=anchors.crls.crls())
        verify_signature(certificate, signed_value(provider_origin(), submission.challenge),
                         signature, submission.algorithm)
    except CertificateRefused as exc:
        raise CertificateLoginRefused.from_certificate(exc) from exc
    return identity
