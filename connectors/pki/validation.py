"""Certificate path validation against configured trust roots and CRLs, never the network.

pyhanko-certvalidator does the RFC 5280 work (chain, dates, signatures, revocation);
this module picks its policy and turns its exceptions into CertificateRefused reasons.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from asn1crypto import pem, x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    DisallowedAlgorithmError,
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.validate import validate_usage

from connectors.pki.identity import CertificateIdentity, read_identity
from connectors.pki.refusals import CertificateRefused

# The end-entity certificate must be covered by a CRL we hold: a USB token or SIM is
# often revoked because it was lost, and "no answer" must not mean "not revoked".
# A CA certificate is checked against the CRL it declares (the root's CRL of licensed CAs).
REVOCATION_POLICY = CertRevTrustPolicy(RevocationCheckingPolicy(
    ee_certificate_rule=RevocationCheckingRule.CRL_REQUIRED,
    intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED,
))

# Checked in this order: the more specific exception classes come first.
_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (RevokedError, "revoked"),
    (ExpiredError, "expired"),
    (NotYetValidError, "not_yet_valid"),
    (InsufficientRevinfoError, "revocation_unavailable"),
    (DisallowedAlgorithmError, "unsupported_algorithm"),
    (PathBuildingError, "untrusted"),
    # Includes InvalidCertificateError, raised for a self-signed certificate.
    (ValidationError, "untrusted"),
)


def parse_certificate(data: bytes) -> x509.Certificate:
    """Parse a DER (or PEM) certificate completely; anything else is refused as malformed."""
    try:
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        certificate = x509.Certificate.load(data, strict=True)
        # asn1crypto parses lazily: touch every field now so errors surface here.
        certificate.native  # noqa: B018
    except (ValueError, TypeError, KeyError) as exc:
        raise CertificateRefused("malformed", detail="not a DER X.509 certificate") from exc
    return certificate


def load_certificates(path: Path) -> list[bytes]:
    """DER bytes of every certificate in a PEM bundle or a single DER file."""
    data = path.read_bytes()
    if not pem.detect(data):
        return [data]
    return [der for kind, _, der in pem.unarmor(data, multiple=True) if kind == "CERTIFICATE"]


def verify_certificate(
    cert_der: bytes,
    *,
    trusted_roots: Sequence[bytes],
    intermediates: Iterable[bytes] = (),
    crls: Iterable[bytes] = (),
    at: datetime | None = None,
) -> CertificateIdentity:
    """Check a signing certificate and return the identity it carries.

    The certificate must chain to one of `trusted_roots` (DER) through `intermediates`,
    be valid at `at` (timezone-aware; default now), be covered by a current CRL from
    `crls` (DER) that does not list it, and allow digitalSignature. Raises
    CertificateRefused with reason malformed, untrusted, expired, not_yet_valid, revoked,
    revocation_unavailable, unsupported_algorithm, key_usage, no_identity or
    conflicting_identity.
    """
    certificate = parse_certificate(cert_der)
    if not trusted_roots:
        raise CertificateRefused("untrusted", detail="no trusted root is configured")
    context = ValidationContext(
        trust_roots=[_configured(der) for der in trusted_roots],
        other_certs=[_configured(der) for der in intermediates],
        crls=list(crls),
        moment=at,
        allow_fetching=False,
        revinfo_policy=REVOCATION_POLICY,
    )
    validator = CertificateValidator(certificate, validation_context=context)
    try:
        asyncio.run(validator.async_validate_path())
    except Exception as exc:
        raise _refusal(exc, certificate) from exc
    try:
        validate_usage(certificate, {"digital_signature"}, None, False)
    except InvalidCertificateError as exc:
        raise CertificateRefused("key_usage", detail=str(exc)) from exc
    return read_identity(certificate)


def _configured(der: bytes) -> x509.Certificate:
    # A broken configured certificate is the operator's problem, not the user's.
    try:
        return parse_certificate(der)
    except CertificateRefused:
        raise ValueError("a configured trust root or intermediate is not a certificate") from None


def _refusal(exc: Exception, certificate: x509.Certificate) -> CertificateRefused:
    for exception_type, reason in _REASONS:
        if isinstance(exc, exception_type):
            detail = str(exc)
            if reason == "untrusted" and not isinstance(exc, PathValidationError):
                # These messages quote the subject, which names a person: log the issuer.
                detail = f"{type(exc).__name__}; issuer: {certificate.issuer.human_friendly}"
            return CertificateRefused(reason, detail=detail)
    # Anything else comes from structures that parse but make no sense (odd extensions).
    return CertificateRefused("malformed", detail=f"{type(exc).__name__}: {exc}")
