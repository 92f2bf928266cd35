"""SIM signature requests: start one for a phone, poll it, verify what the SIM signed.

A request is kept in the state store under a random id of ours (never the MSSP's), bound
to what it was started for (`login:<interaction>`) and to the browser. Its digest is
SHA-256 over 32 fresh random bytes, so every request has its own code. A completed
request leaves the store on its first reading, whatever the result, so neither a captured
id nor the MSSP's answer can be presented twice.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass

from connectors.base import ConnectorUnavailable
from connectors.mssp import HttpMssp, verification_code, verify_cms
from connectors.pki import CertificateIdentity, CertificateRefused
from idp.certificates.refusals import CertificateLoginRefused
from idp.certificates.trust import trust_anchors, trust_configured
from idp.provider import provider

DISPLAY_TEXT = "Đăng nhập Cổng DVC quốc gia"
# The MSSP's answers, and the account refusals said of a SIM instead of a USB token.
MESSAGES_VI = {
    "USER_CANCELLED": "Bạn đã từ chối yêu cầu ký số trên điện thoại. Vui lòng thử lại nếu "
                      "muốn đăng nhập.",
    "TIMEOUT": "Đã hết thời gian chờ xác nhận trên điện thoại. Vui lòng thử lại.",
    "NOT_SIM_CLIENT": "Số điện thoại này chưa đăng ký dịch vụ SIM ký số. Vui lòng liên hệ nhà "
                      "mạng để đăng ký.",
    "PHONE_ABSENT": "Không liên lạc được với điện thoại (tắt máy hoặc ngoài vùng phủ sóng). "
                    "Vui lòng kiểm tra điện thoại và thử lại.",
    "DELIVERY_ERROR": "Không gửi được yêu cầu ký số đến SIM. Vui lòng thử lại sau ít phút.",
    "SIGNATURE_HASH_MISMATCH": "Chữ ký trên SIM không khớp với yêu cầu đăng nhập. Vui lòng "
                               "thử lại.",
    "unavailable": "Dịch vụ SIM ký số tạm thời gián đoạn. Vui lòng thử lại sau ít phút.",
    "unknown": "Yêu cầu ký số không hợp lệ, đã hết hạn hoặc đã được sử dụng. Vui lòng thử lại.",
    "too_many": "Bạn đã yêu cầu ký số quá nhiều lần. Vui lòng thử lại sau.",
    "not_registered": "Chưa có tài khoản nào gắn với chứng thư số trên SIM này. Vui lòng đăng "
                      "ký tài khoản trước.",
    "other_account": "Chứng thư số trên SIM không thuộc tài khoản đang đăng nhập. Vui lòng dùng "
                     "SIM ký số của chính tài khoản đó.",
}


class SimRefused(CertificateLoginRefused):
    """A SIM signature request that ended without a verified signer."""

    messages_vi = MESSAGES_VI


def sim_available() -> bool:
    """Whether SIM login can work here: an MSSP is configured and some root CA trusted."""
    return bool(provider().settings.mssp.url) and trust_configured()


def _mssp() -> HttpMssp:
    return provider().connectors["mssp"]


def _key(request_id: str) -> str:
    return f"sim-request:{request_id}"


@dataclass(frozen=True)
class SimRequest:
    """A pending SIM signature as the waiting page knows it."""

    id: str
    code: str
    deadline: float
    """Epoch seconds after which the page stops waiting."""


def start_request(phone: str, purpose: str, browser: str, ip: str | None) -> SimRequest:
    """Ask the MSSP to have the SIM of `phone` sign a fresh digest; raises SimRefused."""
    p = provider()
    if not p.limits.hit("sim.requests.address", ip):
        raise SimRefused("too_many")
    digest = hashlib.sha256(secrets.token_bytes(32)).digest()
    try:
        session_id = _mssp().start_signature(phone, digest, DISPLAY_TEXT)
    except ConnectorUnavailable as exc:
        raise SimRefused("unavailable", detail=str(exc)) from exc
    wait = p.settings.mssp.wait_seconds
    request = SimRequest(secrets.token_urlsafe(24), verification_code(digest), time.time() + wait)
    p.state.put(_key(request.id), {
        "s": session_id, "d": base64.b64encode(digest).decode(), "p": purpose, "b": browser,
        "e": request.deadline}, wait + 60)
    return request


def _record(request_id: str, purpose: str, browser: str) -> dict | None:
    if not request_id or len(request_id) > 64:
        return None
    record = provider().state.get(_key(request_id))
    if record is None or record["p"] != purpose or not secrets.compare_digest(record["b"],
                                                                              browser):
        return None
    return record


def poll_request(request_id: str, purpose: str, browser: str) -> CertificateIdentity | None:
    """None while the user has not answered on the phone; the verified signer once the
    SIM signed. Raises SimRefused for any other end, after which the id is spent."""
    record = _record(request_id, purpose, browser)
    if record is None:
        raise SimRefused("unknown", detail="used, expired, or another purpose or browser")
    try:
        state = _mssp().poll(record["s"], provider().settings.mssp.poll_ms)
    except ConnectorUnavailable as exc:
        raise SimRefused("unavailable", detail=str(exc)) from exc
    if not state.complete:
        if time.time() <= record["e"]:
            return None
        state_result = "TIMEOUT"
    else:
        state_result = state.result or "TIMEOUT"
    # Complete: only the first reader of the record goes on.
    if provider().state.take(_key(request_id)) is None:
        raise SimRefused("unknown", detail="completed request read twice")
    if state_result != "OK":
        raise SimRefused(state_result, detail=f"MSSP result {state_result}")
    assert state.signature is not None
    anchors = trust_anchors()
    try:
        return verify_cms(state.signature, base64.b64decode(record["d"]),
                          certificate=state.certificate, trusted_roots=anchors.roots,
                          intermediates=anchors.intermediates, crls=anchors.crls.crls())
    except CertificateRefused as exc:
        raise SimRefused.from_certificate(exc) from exc


def cancel_request(request_id: str, purpose: str, browser: str) -> None:
    """Forget the request: whatever the phone answers later logs nobody in."""
    if _record(request_id, purpose, browser) is not None:
        provider().state.delete(_key(request_id))
