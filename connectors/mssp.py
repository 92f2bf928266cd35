"""Mobile signature service provider (MSSP, "SIM ký số") over JSON/HTTP (DESIGN §6).

Wire protocol, header `Authorization: Bearer <api key>`:

    POST /v1/signature
    {"phone": "+84912345678", "hash": "<base64 SHA-256>", "hash_type": "SHA256",
     "display_text": "Đăng nhập Cổng DVC"}
    → 200 {"session_id": "..."}

    GET /v1/session/<session_id>?timeout_ms=1000   (long-poll, at most timeout_ms)
    → 200 {"state": "RUNNING"}
    → 200 {"state": "COMPLETE", "result": "OK", "signature": "<base64 CMS SignedData>",
           "certificate": "<base64 DER>"}
    → 200 {"state": "COMPLETE", "result": "USER_CANCELLED" | "TIMEOUT" | "NOT_SIM_CLIENT" |
           "PHONE_ABSENT" | "DELIVERY_ERROR" | "SIGNATURE_HASH_MISMATCH"}
    → 404 unknown session

The CMS is detached SignedData over the hash: signed attributes content-type and
message-digest (= the hash sent), signed by the SIM's key, the signer's certificate
included. `verify_cms` checks it with the same certificate checks as the USB token.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from asn1crypto import cms
from pydantic import Field

from connectors.http import HttpConnector, MalformedAnswer, RegistrySettings, json_str
from connectors.pki import (
    CertificateIdentity,
    CertificateRefused,
    verify_certificate,
    verify_signature,
)

Result = Literal["OK", "USER_CANCELLED", "TIMEOUT", "NOT_SIM_CLIENT", "PHONE_ABSENT",
                 "DELIVERY_ERROR", "SIGNATURE_HASH_MISMATCH"]
RESULTS: tuple[str, ...] = get_args(Result)
MAX_POLL_MS = 2000
"""The longest long-poll the provider asks for: no request thread waits longer."""
MAX_CMS_BYTES = 32 * 1024


def verification_code(digest: bytes) -> str:
    """The 4-digit code shown on the page and on the phone (Mobile-ID's formula): the 6
    most significant bits of the first byte and the 7 least significant bits of the last,
    as one integer, zero-padded."""
    return f"{((digest[0] & 0xFC) << 5) | (digest[-1] & 0x7F):04d}"


@dataclass(frozen=True)
class SessionState:
    """What a poll returned: still running, or complete with a result."""

    complete: bool
    result: Result | None = None
    signature: bytes | None = None
    """The CMS SignedData (DER), with result OK."""
    certificate: bytes | None = None
    """The SIM's certificate (DER), with result OK."""


class MsspSettings(RegistrySettings):
    """Mobile signature service (SIM ký số): level-3 login by confirming on the phone. The
    SIM certificates are checked against the [usb_token] trusted roots, CAs and CRLs."""

    connector: str = "mssp.http"
    url: str = "http://127.0.0.1:5104"
    api_key: str = "dev-mssp-key"
    poll_ms: int = Field(1000, ge=0, le=MAX_POLL_MS)
    """Longest wait of one long-poll to the MSSP, per browser poll (no worker waits longer)."""
    wait_seconds: int = Field(120, ge=30, le=300)
    """How long the page waits for the user to confirm on the phone."""


class HttpMssp(HttpConnector):
    """Mssp client for an MSSP gateway (or its simulator)."""

    system = "mssp"
    settings_model = MsspSettings

    def start_signature(self, phone: str, digest: bytes, display_text: str) -> str:
        """Ask the SIM of `phone` (E.164) to sign the SHA-256 `digest`; the session id."""
        body = {"phone": phone, "hash": base64.b64encode(digest).decode(),
                "hash_type": "SHA256", "display_text": display_text[:60]}
        return self.http.call("start_signature", "POST", "/v1/signature",
                              lambda _s, data: json_str(data, "session_id"), body=body)

    def poll(self, session_id: str, timeout_ms: int) -> SessionState:
        """The session's state, waiting at most `timeout_ms` (≤ MAX_POLL_MS) for a change."""
        wait = max(0, min(timeout_ms, MAX_POLL_MS))
        return self.http.call("poll", "GET", f"/v1/session/{session_id}?timeout_ms={wait}",
                              _parse_state, idempotent=True)


def _parse_state(_status: int, data: dict[str, Any]) -> SessionState:
    state = json_str(data, "state")
    if state == "RUNNING":
        return SessionState(False)
    if state != "COMPLETE":
        raise MalformedAnswer("unknown state")
    result = json_str(data, "result")
    if result not in RESULTS:
        raise MalformedAnswer("unknown result")
    if result != "OK":
        return SessionState(True, result)  # type: ignore[arg-type]
    try:
        signature = base64.b64decode(json_str(data, "signature"), validate=True)
        certificate = base64.b64decode(json_str(data, "certificate"), validate=True)
    except binascii.Error as exc:
        raise MalformedAnswer("signature or certificate is not base64") from exc
    return SessionState(True, "OK", signature, certificate)


# --- checking the CMS ------------------------------------------------------------------------

_SHA256 = "sha256"
_RSA = {"rsassa_pkcs1v15", "sha256_rsa", "rsa"}
_ECDSA = {"ecdsa", "sha256_ecdsa"}


def verify_cms(signature: bytes, digest: bytes, *, certificate: bytes | None = None,
               trusted_roots: Sequence[bytes], intermediates: Iterable[bytes] = (),
               crls: Iterable[bytes] = ()) -> CertificateIdentity:
    """Check a detached CMS SignedData over `digest` and return the signer's identity.

    The message-digest attribute must equal `digest`, the signed attributes must be
    signed by the signer's certificate (the one in the CMS; `certificate`, what the MSSP
    returned beside it, must be the same), and that certificate must pass
    `verify_certificate` (chain, dates, key usage, CRL). Raises CertificateRefused.
    """
    if not signature or len(signature) > MAX_CMS_BYTES:
        raise CertificateRefused("malformed", detail="CMS empty or too long")
    try:
        info = cms.ContentInfo.load(signature)
        if info["content_type"].native != "signed_data":
            raise CertificateRefused("malformed", detail="not SignedData")
        signed = info["content"]
        signers = signed["signer_infos"]
        if len(signers) != 1:
            raise CertificateRefused("malformed", detail="not exactly one signer")
        signer = signers[0]
        signer_cert = _signer_certificate(signed, signer)
        attributes = signer["signed_attrs"]
        if not attributes:
            raise CertificateRefused("malformed", detail="no signed attributes")
        values = {attr["type"].native: attr["values"] for attr in attributes}
        if "message_digest" not in values or "content_type" not in values:
            raise CertificateRefused("malformed", detail="missing content-type or digest")
        digest_algorithm = signer["digest_algorithm"]["algorithm"].native
        message_digest = values["message_digest"][0].native
        algorithm = signer["signature_algorithm"].signature_algo
        # Signed as a SET OF (tag 0x31), not as the [0] IMPLICIT they travel in.
        signed_bytes = b"\x31" + attributes.dump()[1:]
        signature_value = signer["signature"].native
    except CertificateRefused:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise CertificateRefused("malformed", detail=f"CMS unreadable ({type(exc).__name__})"
                                 ) from exc
    if digest_algorithm != _SHA256:
        raise CertificateRefused("unsupported_algorithm", detail=f"digest {digest_algorithm}")
    if not hmac.compare_digest(message_digest, digest):
        raise CertificateRefused("bad_signature", detail="message digest is not the hash sent")
    if certificate is not None and certificate != signer_cert:
        raise CertificateRefused("bad_signature", detail="certificate differs from the signer's")
    identity = verify_certificate(signer_cert, trusted_roots=trusted_roots,
                                  intermediates=intermediates, crls=crls)
    jose = "RS256" if algorithm in _RSA else "ES256" if algorithm in _ECDSA else algorithm
    verify_signature(signer_cert, signed_bytes, signature_value, jose)
    return identity


def _signer_certificate(signed: cms.SignedData, signer: cms.SignerInfo) -> bytes:
    sid = signer["sid"]
    if sid.name != "issuer_and_serial_number":
        raise CertificateRefused("malformed", detail="signer not named by issuer and serial")
    wanted = sid.chosen
    for choice in signed["certificates"] or []:
        if choice.name != "certificate":
            continue
        tbs = choice.chosen["tbs_certificate"]
        if (tbs["serial_number"].native == wanted["serial_number"].native
                and tbs["issuer"] == wanted["issuer"]):
            return choice.chosen.dump()
    raise CertificateRefused("malformed", detail="signer's certificate not in the CMS")
