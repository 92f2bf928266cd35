"""Challenges, the value a token signs, and checking that signature with the certificate's key.

The signed value follows the Web eID authentication token: hash(origin) ‖ hash(challenge),
so a signature made for one site or one login cannot be replayed at another. Algorithm
names are JOSE's (RFC 7518), as Web eID uses them.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from connectors.pki.refusals import CertificateRefused
from connectors.pki.validation import parse_certificate

Algorithm = Literal["RS256", "PS256", "ES256"]
ALGORITHMS: tuple[Algorithm, ...] = ("RS256", "PS256", "ES256")
MIN_RSA_BITS = 2048
_P256_COORDINATE_BYTES = 32


def new_challenge() -> str:
    """A fresh single-use challenge: 256 random bits, base64url without padding."""
    return secrets.token_urlsafe(32)


def signed_value(origin: str, challenge: str) -> bytes:
    """What the token signs for a login at `origin`: sha256(origin) ‖ sha256(challenge)."""
    return (hashlib.sha256(origin.encode("utf-8")).digest()
            + hashlib.sha256(challenge.encode("utf-8")).digest())


def verify_signature(cert_der: bytes, data: bytes, signature: bytes, algorithm: str) -> None:
    """Check that the key of the certificate (DER or PEM) signed `data` with `algorithm`.

    RS256 is RSA PKCS#1 v1.5 with SHA-256, PS256 RSA-PSS with SHA-256 (MGF1 SHA-256, any
    salt length), ES256 ECDSA on P-256 with SHA-256, as DER or as raw r ‖ s (JOSE).
    Raises CertificateRefused: "malformed" for unparsable input, "unsupported_algorithm"
    for another algorithm or a key that does not fit it, "bad_signature" on mismatch.
    """
    if algorithm not in ALGORITHMS:
        raise CertificateRefused("unsupported_algorithm", detail=f"algorithm {algorithm!r}")
    certificate = parse_certificate(cert_der)
    try:
        public_key = serialization.load_der_public_key(certificate.public_key.dump())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertificateRefused("malformed", detail="public key unreadable") from exc
    if algorithm == "ES256":
        _verify_ecdsa(public_key, data, signature)
    else:
        _verify_rsa(public_key, data, signature, algorithm)


def _verify_rsa(public_key: object, data: bytes, signature: bytes, algorithm: str) -> None:
    if not isinstance(public_key, rsa.RSAPublicKey) or public_key.key_size < MIN_RSA_BITS:
        raise CertificateRefused("unsupported_algorithm",
                                 detail=f"{algorithm} needs an RSA key of {MIN_RSA_BITS}+ bits")
    scheme = padding.PKCS1v15() if algorithm == "RS256" else padding.PSS(
        mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    try:
        public_key.verify(signature, data, scheme, hashes.SHA256())
    except InvalidSignature:
        raise CertificateRefused("bad_signature", detail=f"{algorithm} mismatch") from None


def _verify_ecdsa(public_key: object, data: bytes, signature: bytes) -> None:
    if not (isinstance(public_key, ec.EllipticCurvePublicKey)
            and isinstance(public_key.curve, ec.SECP256R1)):
        raise CertificateRefused("unsupported_algorithm", detail="ES256 needs a P-256 key")
    candidates = [signature]
    if len(signature) == 2 * _P256_COORDINATE_BYTES:
        # JOSE's raw r ‖ s (what Web eID sends); a DER signature is rarely exactly 64 bytes,
        # so the bytes are also tried as DER below rather than assumed raw.
        r = int.from_bytes(signature[:_P256_COORDINATE_BYTES], "big")
        s = int.from_bytes(signature[_P256_COORDINATE_BYTES:], "big")
        candidates.insert(0, encode_dss_signature(r, s))
    for candidate in candidates:
        try:
            public_key.verify(candidate, data, ec.ECDSA(hashes.SHA256()))
            return
        except InvalidSignature:
            continue
    raise CertificateRefused("bad_signature", detail="ES256 mismatch")


_DEFAULT_PORTS = {"http": 80, "https": 443}


def web_origin(url: str) -> str:
    """`url`'s origin as browsers serialise it; ValueError for anything but an origin."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username:
        raise ValueError("an origin such as https://sso.dichvucong.gov.vn")
    if parts.scheme == "http" and parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise ValueError("https (plain http only for a provider on this machine)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if parts.port is not None and parts.port != _DEFAULT_PORTS[parts.scheme]:
        host += f":{parts.port}"
    return f"{parts.scheme}://{host}"
