"""One-time codes sent by SMS, bound to one login, registration, reset or phone change
(DESIGN §7).

A code is 6 digits from `secrets`, stored only as an HMAC, valid `otp.ttl` seconds and
usable once. Wrong tries are counted per challenge, so a re-send never resets them. Every
send counts against the named limits of its purpose (idp/limits.py): codes a stranger can
trigger (forgot password, registration) never spend the login's, and an address limit
never counts a browser the person logged in from before.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from enum import Enum

from flask import g

from connectors.base import ConnectorUnavailable
from idp.audit import record_event
from idp.provider import provider
from idp.vntime import clock_time


@dataclass(frozen=True)
class Purpose:
    """Why a code is sent: the words of the SMS and the limits its sends count against,
    each with the parts of the request that key it (phone, cccd, ip, requester, staff)."""

    name: str
    words: str
    limits: tuple[tuple[str, tuple[str, ...]], ...]


OWNER_PARTS = frozenset({"phone", "cccd"})
"""Parts that key a count on the citizen's own identity rather than on the requester."""

LOGIN = Purpose("login", "đăng nhập", (
    ("sms.login.phone", ("phone",)),
    ("sms.login.phone_daily", ("phone",)),
    ("sms.login.address", ("ip",)),
))
REGISTER = Purpose("register", "đăng ký tài khoản", (
    ("sms.register.cccd", ("cccd",)),
    ("sms.register.phone", ("phone",)),
    ("sms.register.address", ("ip",)),
))
RESET = Purpose("reset", "đặt lại mật khẩu", (("sms.reset.cccd", ("cccd", "requester")),))
PHONE_CHANGE = Purpose("phone_change", "xác nhận số điện thoại nhận OTP", (
    ("sms.phone_change.phone", ("phone",)),
))
HELPDESK = Purpose("helpdesk", "đổi số điện thoại nhận OTP", (
    ("sms.helpdesk.staff", ("staff",)),
    ("sms.phone_change.phone", ("phone",)),
))


@dataclass
class Challenge:
    """One code to be proven: where its record lives, why it is sent, and who asks."""

    id: str
    purpose: Purpose
    account_id: int | None = None
    cccd: str | None = None
    ip: str | None = None
    device: str | None = None
    """The device nonce when the requester's browser logged in to this account before."""
    staff: str | None = None

    def key_part(self, part: str, phone: str) -> str | None:
        if part == "requester":
            return f"device:{self.device}" if self.device else "unknown-browsers"
        return phone if part == "phone" else getattr(self, part)


class SendOutcome(Enum):
    SENT = "sent"
    COOLDOWN = "cooldown"
    LOGIN_LIMIT = "login_limit"
    PHONE_LIMIT = "phone_limit"
    CCCD_LIMIT = "cccd_limit"
    ADDRESS_LIMIT = "address_limit"
    STAFF_LIMIT = "staff_limit"
    FAILED = "failed"
    """The SMS gateway did not take the text."""


_OUTCOME_OF_PART = {"phone": SendOutcome.PHONE_LIMIT, "cccd": SendOutcome.CCCD_LIMIT,
                    "ip": SendOutcome.ADDRESS_LIMIT, "staff": SendOutcome.STAFF_LIMIT}

SEND_MESSAGES = {  # what the person reads when no code went out
    SendOutcome.COOLDOWN: "Mã OTP vừa được gửi tới số này. Vui lòng chờ {wait} giây trước khi "
                          "gửi lại.",
    SendOutcome.LOGIN_LIMIT: "Đã gửi mã OTP đủ số lần cho phép trong lượt này, nên không gửi "
                             "thêm.",
    SendOutcome.PHONE_LIMIT: "Số điện thoại này đã nhận nhiều mã OTP trong thời gian ngắn; có "
                             "thể nhận mã mới sau {until}.",
    SendOutcome.CCCD_LIMIT: "Đã gửi nhiều mã OTP cho số định danh này trong thời gian ngắn; "
                            "vui lòng thử lại sau {until}.",
    SendOutcome.ADDRESS_LIMIT: "Có quá nhiều yêu cầu gửi mã OTP từ mạng của bạn; vui lòng thử "
                               "lại sau {until}.",
    SendOutcome.STAFF_LIMIT: "Bạn đã gửi nhiều mã OTP trong giờ qua; vui lòng thử lại sau "
                             "{until} hoặc nhờ một cán bộ khác.",
    SendOutcome.FAILED: "Hệ thống gửi tin nhắn tạm thời không gửi được mã OTP.",
}


class CheckOutcome(Enum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"


@dataclass
class SendResult:
    outcome: SendOutcome
    wait_seconds: int = 0
    until: float = 0.0
    expires_at: float = 0.0

    @property
    def sent(self) -> bool:
        return self.outcome is SendOutcome.SENT

    @property
    def message(self) -> str:
        """Vietnamese: why no code went out."""
        return SEND_MESSAGES[self.outcome].format(wait=self.wait_seconds,
                                                  until=clock_time(self.until))


@dataclass
class CheckResult:
    outcome: CheckOutcome
    tries_left: int = 0
    last_try: bool = False
    """EXHAUSTED by this very request (it spent the last try), not by an earlier or parallel
    one: only this one may count the attempt as a failed login."""


@dataclass
class PendingCode:
    """What the code page shows: where the code went and for how long it is valid."""

    phone: str
    expires_at: float
    resend_at: float


def _record_key(challenge_id: str) -> str:
    return f"otp:{challenge_id}"


def _digest(challenge_id: str, code: str) -> str:
    key = provider().settings.server.secret_key.encode()
    return hmac.new(key, f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _validity(ttl: int) -> str:
    # otp.ttl may be 30-600 s: "90 giây", never "1 phút" (or "0 phút") for it.
    return f"{ttl // 60} phút" if ttl % 60 == 0 else f"{ttl} giây"


def send_code(challenge: Challenge, phone: str) -> SendResult:
    """Send a fresh code for `challenge` to `phone` (E.164), within every limit of its
    purpose. The previous code stays valid when nothing is sent."""
    p = provider()
    limits = p.limits
    now = time.time()
    wait, per_login = limits.windows(("sms.resend_wait", (challenge.id, phone)),
                                     ("sms.per_login", (challenge.id,)))
    if wait.spent:
        return SendResult(SendOutcome.COOLDOWN,
                          wait_seconds=max(1, int(wait.resets_at - now + 0.999)))
    if per_login.spent:
        return SendResult(SendOutcome.LOGIN_LIMIT)
    counted = [(name, [challenge.key_part(part, phone) for part in parts], parts)
               for name, parts in challenge.purpose.limits
               # a browser that logged in before is never held by its address
               if not ("ip" in parts and challenge.device)]
    # Counted first, all in one round trip, so parallel sends never overshoot. Past the
    # first limit that refuses, the later ones take their hit back: this send never
    # reached them.
    left = limits.hits_left_all(*((name, who) for name, who, _ in counted))
    for index, (name, who, parts) in enumerate(counted):
        if left[index] < 0:
            for later, later_who, _ in counted[index + 1:]:
                limits.give_back(later, *later_who)
            record_event("otp.send", "refused", account_id=challenge.account_id,
                         purpose=challenge.purpose.name, reason=name)
            return SendResult(_OUTCOME_OF_PART[parts[0]], until=limits.resets_at(name, *who))

    code = f"{secrets.randbelow(1_000_000):06d}"
    ttl = p.settings.otp.ttl
    try:
        p.sms.send(phone, f"Mã xác thực (OTP) {challenge.purpose.words} của bạn là {code}, "
                          f"hiệu lực {_validity(ttl)}. Không cung cấp mã này cho bất kỳ ai.")
    except ConnectorUnavailable as exc:
        # No SMS went out: an outage must not spend the owner's codes (those of the phone or
        # CCCD) for the hour after. The requester's own counts (address, staff) stay, so
        # a retry storm against a gateway that is down is still bounded.
        for name, who, parts in counted:
            if OWNER_PARTS.intersection(parts):
                limits.give_back(name, *who)
        record_event("otp.send", "failure", account_id=challenge.account_id,
                     purpose=challenge.purpose.name, reason="gateway", system=exc.system)
        return SendResult(SendOutcome.FAILED)
    limits.hits_left_all(("sms.resend_wait", (challenge.id, phone)),
                         ("sms.per_login", (challenge.id,)))
    record = {"phone": phone, "digest": _digest(challenge.id, code), "expires_at": now + ttl,
              "sent_at": now}
    # The record outlives the code, so the page can still say where the last one went.
    p.state.put(_record_key(challenge.id), record, p.settings.session.transaction_ttl)
    _code_changed(challenge.id)
    record_event("otp.send", "success", account_id=challenge.account_id,
                 purpose=challenge.purpose.name, phone_suffix=phone[-3:])
    return SendResult(SendOutcome.SENT, expires_at=record["expires_at"])


def pending_code(challenge_id: str) -> PendingCode | None:
    """The code last sent for this challenge, if any. Read once per request (the page and
    its other ways on both ask); a send, a right code or a forget reads it again."""
    known = g.setdefault("pending_codes", {})
    if challenge_id not in known:
        known[challenge_id] = _read_pending_code(challenge_id)
    return known[challenge_id]


def _code_changed(challenge_id: str) -> None:
    g.get("pending_codes", {}).pop(challenge_id, None)


def _read_pending_code(challenge_id: str) -> PendingCode | None:
    p = provider()
    record = p.state.get(_record_key(challenge_id))
    if record is None:
        return None
    [wait] = p.limits.windows(("sms.resend_wait", (challenge_id, record["phone"])))
    return PendingCode(record["phone"], record["expires_at"],
                       wait.resets_at if wait.spent else 0.0)


def spend_try(challenge_id: str) -> int | None:
    """Count one typed code (SMS or app: switching never buys more guesses); the tries left
    after this one (0: this was the last, for exactly one of parallel requests), or None when
    none were left."""
    left = provider().limits.hits_left("otp.wrong_codes", challenge_id)
    return left if left >= 0 else None


def check_code(challenge_id: str, code: str) -> CheckResult:
    """Check a typed code; on success the code is consumed and cannot be used again."""
    p = provider()
    left = spend_try(challenge_id)
    if left is None:
        return CheckResult(CheckOutcome.EXHAUSTED)
    record = p.state.get(_record_key(challenge_id))
    code = code.strip()
    valid = len(code) == 6 and code.isascii() and code.isdigit()
    if record is not None and valid and hmac.compare_digest(record["digest"],
                                                            _digest(challenge_id, code)):
        if time.time() > record["expires_at"]:
            return CheckResult(CheckOutcome.EXPIRED, left)
        # Single use even under concurrent submissions: only one caller wins the marker.
        ttl = p.settings.otp.ttl * 2
        if not p.state.add(f"otp-used:{challenge_id}:{record['sent_at']}", {}, ttl):
            return CheckResult(CheckOutcome.EXPIRED, left)
        p.state.delete(_record_key(challenge_id))
        _code_changed(challenge_id)
        return CheckResult(CheckOutcome.OK)
    if left <= 0:
        return CheckResult(CheckOutcome.EXHAUSTED, last_try=True)
    if record is None or time.time() > record["expires_at"]:
        return CheckResult(CheckOutcome.EXPIRED, left)
    return CheckResult(CheckOutcome.WRONG, left)


def forget_code(challenge_id: str) -> None:
    """Drop the challenge's code and its tries (a login that starts again at the password
    has paid for its failure already)."""
    p = provider()
    record = p.state.take(_record_key(challenge_id))
    _code_changed(challenge_id)
    if record is not None:
        p.limits.clear("sms.resend_wait", challenge_id, record["phone"])
    p.limits.clear("otp.wrong_codes", challenge_id)
    p.limits.clear("sms.per_login", challenge_id)
