"""Checking shared identity data: the function any verifier (a bank, a hotel, a clinic)
calls, and the provider's own API and clerk's page call too.

`verify_credential` is offline: given the issuer's published keys and a way to read a
status list entry, it needs nothing else. `ShareVerifier` (verifier_client.py) fetches
those over HTTP and reads QR codes; the provider passes its own keys and database.

Every outcome is one of the statuses below; only a valid credential yields its claims.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.sharing import statuslist
from idp.sharing.claims import VCT, ordered
from idp.sharing.sdjwt import MalformedSdJwt, b64url_decode, disclosed_claims, split
from idp.vntime import VIETNAM_TZ

VALID = "valid"
EXPIRED = "expired"
REVOKED = "revoked"
TAMPERED = "tampered"
UNTRUSTED_ISSUER = "untrusted_issuer"
USED = "used"
NOT_FOUND = "not_found"
UNREADABLE = "unreadable"
UNAVAILABLE = "unavailable"

STATUS_TEXT = {
    VALID: "Hợp lệ",
    EXPIRED: "Đã hết hạn",
    REVOKED: "Đã bị thu hồi",
    TAMPERED: "Bị sửa đổi hoặc giả mạo",
    UNTRUSTED_ISSUER: "Không do hệ thống định danh này cấp",
    USED: "Mã QR chỉ dùng một lần và đã được đọc",
    NOT_FOUND: "Không tìm thấy (mã sai hoặc đã bị xóa)",
    UNREADABLE: "Không phải mã QR chia sẻ thông tin định danh",
    UNAVAILABLE: "Chưa kiểm tra được, hãy thử lại sau",
}
"""What a person is told for each status."""

ALGORITHMS = ["ES256"]
TOKEN_TYPE = "dc+sd-jwt"
LEEWAY = 30
"""Seconds of clock difference tolerated between the issuer and the verifier."""

SHARE_PATH = "/s/"
"""Where a share's URL lives under the issuer: `{issuer}/s/{code}`."""
SHARE_CODE = re.compile(r"[A-Za-z0-9_-]{20,64}")
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+~[A-Za-z0-9_~-]*")

StatusLookup = Callable[[str, int], int]
"""(status list URI, index) -> status; raises StatusUnavailable when it cannot tell."""


class StatusUnavailable(Exception):
    """The status list could not be fetched or trusted: the credential is not accepted."""


@dataclass(frozen=True)
class Verification:
    """The outcome of checking one credential or QR code."""

    status: str
    reason: str = ""
    """Why, in English, for logs and API clients; never personal data."""
    claims: dict = field(default_factory=dict)
    """The disclosed claims; empty unless the status is valid."""
    issuer: str | None = None
    issued_at: int | None = None
    expires_at: int | None = None

    @property
    def valid(self) -> bool:
        return self.status == VALID

    @property
    def status_text(self) -> str:
        return STATUS_TEXT[self.status]

    def items(self) -> list[tuple[str, str, str]]:
        """(claim, Vietnamese label, value as read) of the disclosed claims."""
        return ordered(self.claims)

    def as_json(self) -> dict:
        """The answer of the verification API."""
        return {
            "status": self.status, "status_text": self.status_text, "reason": self.reason,
            "issuer": self.issuer, "issued_at": self.issued_at, "expires_at": self.expires_at,
            "claims": self.claims,
            "items": [{"claim": c, "label": label, "value": value}
                      for c, label, value in self.items()],
        }


def vietnam_time(epoch: int | None) -> str:
    """hh:mm:ss dd/mm/yyyy in Vietnam time, as the clerk's page shows times."""
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).astimezone(VIETNAM_TZ).strftime(
        "%H:%M:%S %d/%m/%Y")


@dataclass(frozen=True)
class QrContent:
    """What a QR code holds: `share` (the code of a share URL of this issuer), `credential`
    (a compact SD-JWT), `foreign` (a URL elsewhere) or `unknown`."""

    kind: str
    value: str


def classify_qr(text: str, issuer: str) -> QrContent:
    """Tell what the text of a scanned QR code is, for a verifier trusting `issuer`. Only
    a URL under the issuer is ever fetched: a QR code cannot send a verifier elsewhere."""
    text = text.strip()
    prefix = issuer + SHARE_PATH
    if text.startswith(prefix) and SHARE_CODE.fullmatch(text[len(prefix):]):
        return QrContent("share", text[len(prefix):])
    if _COMPACT.fullmatch(text):
        return QrContent("credential", text)
    if text.lower().startswith(("http://", "https://")):
        return QrContent("foreign", text)
    return QrContent("unknown", text)


def _unverified_payload(token: str) -> dict:
    try:
        payload = json.loads(b64url_decode(token.split(".")[1]))
    except (ValueError, UnicodeDecodeError, IndexError) as exc:
        raise MalformedSdJwt("payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise MalformedSdJwt("payload is not an object")
    return payload


def claimed_issuer(presentation: str) -> str | None:
    """The issuer a credential names, unverified (to refuse a foreign one before any
    key is fetched); None when it is not even readable."""
    try:
        issuer = _unverified_payload(split(presentation).jws).get("iss")
    except MalformedSdJwt:
        return None
    return issuer if isinstance(issuer, str) else None


def verify_credential(presentation: str, *, issuer: str, keys: KeySet,
                      status_of: StatusLookup, now: float | None = None) -> Verification:
    """Check a compact SD-JWT VC that `issuer` signed with one of `keys` (its published
    JWKS): signature, type, every disclosure, expiry, then revocation through `status_of`.
    Refuses anything else: another issuer, a wrong key, an added or altered disclosure."""
    now = time.time() if now is None else now
    try:
        parts = split(presentation)
        claimed_issuer = _unverified_payload(parts.jws).get("iss")
    except MalformedSdJwt as exc:
        return Verification(TAMPERED, str(exc))
    if claimed_issuer != issuer:
        return Verification(UNTRUSTED_ISSUER, "issued by someone else")
    try:
        signed = jws.deserialize_compact(parts.jws, keys, algorithms=ALGORITHMS)
        payload = json.loads(signed.payload)
    except (JoseError, ValueError) as exc:
        return Verification(TAMPERED, f"signature does not verify: {type(exc).__name__}")
    if signed.headers().get("typ") != TOKEN_TYPE or payload.get("vct") != VCT:
        return Verification(TAMPERED, "not a shared-identity credential")
    issued_at, expires_at = payload.get("iat"), payload.get("exp")
    if not isinstance(issued_at, int) or not isinstance(expires_at, int):
        return Verification(TAMPERED, "iat or exp missing")
    known = {"issuer": issuer, "issued_at": issued_at, "expires_at": expires_at}
    try:
        claims = disclosed_claims(payload, parts.disclosures)
    except MalformedSdJwt as exc:
        return Verification(TAMPERED, str(exc), **known)
    if issued_at > now + LEEWAY:
        return Verification(TAMPERED, "issued in the future", **known)
    if expires_at <= now - LEEWAY:
        return Verification(EXPIRED, "expired", **known)
    reference = (payload.get("status") or {}).get("status_list") or {}
    index, uri = reference.get("idx"), reference.get("uri")
    if not isinstance(index, int) or not isinstance(uri, str):
        return Verification(TAMPERED, "status list reference missing", **known)
    try:
        status = status_of(uri, index)
    except (StatusUnavailable, statuslist.MalformedStatusList) as exc:
        return Verification(UNAVAILABLE, f"status unknown: {exc}", **known)
    if status != statuslist.VALID:
        return Verification(REVOKED, "revoked", **known)
    return Verification(VALID, "", claims, **known)


def read_status_list_token(token: str, *, uri: str, keys: KeySet,
                           now: float | None = None) -> tuple[dict, int]:
    """The `status_list` claim and the cache lifetime (`ttl`) of a Status List Token for
    `uri`, signed with one of `keys`; raises StatusUnavailable when it cannot be trusted."""
    now = time.time() if now is None else now
    try:
        signed = jws.deserialize_compact(token.strip(), keys, algorithms=ALGORITHMS)
        claims = json.loads(signed.payload)
    except (JoseError, ValueError) as exc:
        raise StatusUnavailable("status list signature does not verify") from exc
    if signed.headers().get("typ") != statuslist.TOKEN_TYPE or claims.get("sub") != uri:
        raise StatusUnavailable("not the status list the credential names")
    expires_at = claims.get("exp")
    if isinstance(expires_at, int) and expires_at <= now - LEEWAY:
        raise StatusUnavailable("status list expired")
    ttl = claims.get("ttl")
    return claims.get("status_list"), ttl if isinstance(ttl, int) and ttl >= 0 else 0
