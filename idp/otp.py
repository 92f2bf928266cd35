"""One-time codes sent by SMS, bound to one login transaction (DESIGN §7).

A code is 6 digits from `secrets`, stored only as an HMAC, valid `otp.ttl`
seconds and usable once. Wrong tries are counted per transaction, so a re-send
never resets them. SMS sent are capped per phone and per IP against SMS pumping.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from enum import Enum

from flask import render_template

from idp.audit import record_event
from idp.identity import mask_phone
from idp.provider import provider

DAY = 24 * 3600


class SendOutcome(Enum):
    SENT = "sent"
    COOLDOWN = "cooldown"
    TRANSACTION_LIMIT = "transaction_limit"
    PHONE_LIMIT = "phone_limit"
    IP_LIMIT = "ip_limit"


class CheckOutcome(Enum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"


SEND_MESSAGES = {  # what the citizen reads for each refusal
    SendOutcome.COOLDOWN: "Vui lòng chờ {wait} giây trước khi gửi lại mã OTP.",
    SendOutcome.TRANSACTION_LIMIT: "Bạn đã yêu cầu gửi lại mã quá số lần cho phép. "
    "Vui lòng đăng nhập lại từ đầu.",
    SendOutcome.PHONE_LIMIT: "Số điện thoại này đã nhận quá nhiều mã OTP. Vui lòng thử lại sau.",
    SendOutcome.IP_LIMIT: "Có quá nhiều yêu cầu gửi mã OTP từ mạng của bạn. Vui lòng thử lại sau.",
}


@dataclass
class SendResult:
    outcome: SendOutcome
    wait_seconds: int = 0
    expires_at: float = 0


@dataclass
class CheckResult:
    outcome: CheckOutcome
    tries_left: int = 0


@dataclass
class PendingOtp:
    """What the OTP screen shows: where the code went and for how long it is valid."""

    phone: str
    expires_at: float
    resend_at: float


def _digest(transaction_id: str, code: str) -> str:
    key = provider().settings.server.secret_key.encode()
    return hmac.new(key, f"{transaction_id}:{code}".encode(), hashlib.sha256).hexdigest()


def send_otp(
    transaction_id: str, phone: str, *, purpose: str, ip: str | None, account_id: int | None
) -> SendResult:
    """Send a fresh code for `transaction_id` to `phone` (E.164), within every limit."""
    p = provider()
    cfg = p.settings.otp
    key = f"otp:{transaction_id}"
    now = time.time()
    current = p.state.get(key)
    if current:
        if now < current["sent_at"] + cfg.resend_cooldown:
            return SendResult(
                SendOutcome.COOLDOWN, int(current["sent_at"] + cfg.resend_cooldown - now) + 1
            )
        if current["sends"] >= cfg.max_sends_per_transaction:
            return SendResult(SendOutcome.TRANSACTION_LIMIT)
    limits = (
        (f"sms-phone-h:{phone}", 3600, cfg.per_phone_per_hour, SendOutcome.PHONE_LIMIT),
        (f"sms-phone-d:{phone}", DAY, cfg.per_phone_per_day, SendOutcome.PHONE_LIMIT),
        (f"sms-ip-h:{ip}", 3600, cfg.per_ip_per_hour, SendOutcome.IP_LIMIT),
    )
    for counter, window, cap, outcome in limits:
        if p.state.incr(counter, window) > cap:
            record_event("otp.send", "refused", account_id=account_id, reason=outcome.value)
            return SendResult(outcome)

    code = f"{secrets.randbelow(1_000_000):06d}"
    record = {
        "phone": phone,
        "digest": _digest(transaction_id, code),
        "expires_at": now + cfg.ttl,
        "sent_at": now,
        "sends": (current["sends"] if current else 0) + 1,
    }
    # The record outlives the code so the cooldown and send count survive expiry.
    p.state.put(key, record, p.settings.session.transaction_ttl)
    # otp.ttl may be 30-600 s: "90 giây", never "1 phút" (or "0 phút") for it.
    validity = f"{cfg.ttl // 60} phút" if cfg.ttl % 60 == 0 else f"{cfg.ttl} giây"
    p.sms.send(
        phone,
        f"Mã xác thực (OTP) {purpose} của bạn là {code}, hiệu lực {validity}. "
        "Không cung cấp mã này cho bất kỳ ai.",
    )
    record_event("otp.send", "success", account_id=account_id, phone_suffix=phone[-3:])
    return SendResult(SendOutcome.SENT, expires_at=record["expires_at"])


def pending_otp(transaction_id: str) -> PendingOtp | None:
    """The code currently outstanding for this transaction, if any."""
    p = provider()
    record = p.state.get(f"otp:{transaction_id}")
    if record is None:
        return None
    return PendingOtp(
        record["phone"], record["expires_at"], record["sent_at"] + p.settings.otp.resend_cooldown
    )


def check_otp(transaction_id: str, code: str) -> CheckResult:
    """Check a typed code; on success the code is consumed and cannot be used again."""
    p = provider()
    cfg = p.settings.otp
    tries = p.state.incr(f"otp-tries:{transaction_id}", p.settings.session.transaction_ttl)
    if tries > cfg.max_attempts:
        return CheckResult(CheckOutcome.EXHAUSTED)
    record = p.state.get(f"otp:{transaction_id}")
    if record is None or record.get("used"):
        return CheckResult(CheckOutcome.EXPIRED, cfg.max_attempts - tries)
    code = code.strip()
    valid = len(code) == 6 and code.isdigit()
    if valid and hmac.compare_digest(record["digest"], _digest(transaction_id, code)):
        if time.time() > record["expires_at"]:
            return CheckResult(CheckOutcome.EXPIRED, cfg.max_attempts - tries)
        # Single use even under concurrent submissions: only one caller wins the marker.
        if not p.state.add(f"otp-used:{transaction_id}:{record['sent_at']}", {}, cfg.ttl * 2):
            return CheckResult(CheckOutcome.EXPIRED, cfg.max_attempts - tries)
        p.state.delete(f"otp:{transaction_id}")
        return CheckResult(CheckOutcome.OK)
    if tries >= cfg.max_attempts:
        return CheckResult(CheckOutcome.EXHAUSTED)
    return CheckResult(CheckOutcome.WRONG, cfg.max_attempts - tries)


def render_otp_page(otp_id: str, *, status: int = 200, **context):
    """The OTP screen (shared by login, registration and password reset): where the code
    went, its countdown and the re-send cooldown."""
    pending = pending_otp(otp_id)
    now = time.time()
    return render_template(
        "otp.html",
        phone=mask_phone(pending.phone) if pending else "",
        seconds_left=max(0, int(pending.expires_at - now)) if pending else 0,
        resend_in=max(0, int(pending.resend_at - now)) if pending else 0,
        **context,
    ), status
