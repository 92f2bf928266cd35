"""The code step every flow shows: the page, the check, the re-send and the other ways on.

Login, registration, forgot password, lost phone and phone change each declare one
`CodeStep` and keep only what differs (where a right code leads, what ends the flow);
the helpdesk's phone reset uses the same sends and checks in its own staff page. When no
SMS could be sent the page still comes, saying why and offering what else there is (the
authenticator app first when the account has one, the other phones, the lost-phone
recovery, the counter), never a dead end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Response, redirect, render_template, url_for

from idp.otp.codes import (
    Challenge,
    CheckOutcome,
    Purpose,
    SendResult,
    check_code,
    pending_code,
    send_code,
)
from idp.provider import provider
from vnid.person import mask_phone

NOTICE_TTL = 120


@dataclass
class OtherWays:
    """What the page offers besides the code just sent."""

    app_action: str | None = None
    """Form action for an authenticator-app code (accounts that enrolled one)."""
    app_first: bool = False
    """No SMS was sent because the account has an app: the app's form comes first."""
    phones: list[tuple[int, str]] = field(default_factory=list)
    """(phone id, masked number) a code can be sent to instead."""
    lost_phone_url: str | None = None
    counter: bool = False
    """Say that the counter and the hotline can help."""
    links: list[tuple[str, str]] = field(default_factory=list)
    """Other ways on of this flow: (label, URL)."""
    back_url: str | None = None
    """"Quay lại cổng dịch vụ": give up this login and go back to the portal."""


@dataclass(frozen=True)
class CodeStep:
    """One flow's code step: why the code is sent, how the page is titled, its endpoints."""

    purpose: Purpose
    heading: str
    title: str
    check_endpoint: str
    resend_endpoint: str
    reveal_phone: bool = True
    """False where showing the number (or that none was sent) would tell a known CCCD
    from an unknown one (forgot password)."""
    notice: str | None = None
    """What to say instead of the number when it is not revealed."""

    def send(self, challenge: Challenge, phone: str, *, announce: bool = True) -> SendResult:
        """Send a code; when none went out, the page will say why (`announce`)."""
        result = send_code(challenge, phone)
        if not result.sent and announce and self.reveal_phone:
            self.leave_notice(challenge.id, f"Chưa gửi được mã OTP tới số {mask_phone(phone)}. "
                              f"{result.message}", warning=True)
        return result

    def leave_notice(self, challenge_id: str, text: str, *, warning: bool = False) -> None:
        """A message for the next time the page is shown (after the redirect to it)."""
        provider().state.put(f"otp-note:{challenge_id}", {"text": text, "warning": warning},
                             NOTICE_TTL)

    def page(self, challenge_id: str, hidden: dict[str, str], *, error: str | None = None,
             status: int = 200, ways: OtherWays | None = None) -> tuple[str, int]:
        """The code page: where the code went and how long it is valid, the re-send, and the
        other ways on."""
        notice = provider().state.take(f"otp-note:{challenge_id}")
        pending = pending_code(challenge_id) if self.reveal_phone else None
        now = time.time()
        return render_template(
            "otp.html", step=self, hidden=hidden, error=error, notice=notice,
            ways=ways or OtherWays(),
            phone=mask_phone(pending.phone) if pending else "",
            seconds_left=max(0, int(pending.expires_at - now)) if pending else 0,
            resend_in=max(0, int(pending.resend_at - now + 0.999)) if pending else 0,
            form_action=url_for(self.check_endpoint),
            resend_action=url_for(self.resend_endpoint),
        ), status

    def wrong_code_message(self, outcome: CheckOutcome, tries_left: int) -> str:
        tries = f"Bạn còn {tries_left} lần thử."
        if not self.reveal_phone:
            return f"Mã OTP không đúng hoặc đã hết hiệu lực. {tries}"
        if outcome is CheckOutcome.EXPIRED:
            return f"Mã OTP đã hết hiệu lực. Bấm “Gửi lại OTP” để nhận mã mới. {tries}"
        return f"Mã OTP không đúng. {tries}"

    def answer_code(self, challenge_id: str, code: str, hidden: dict[str, str], *,
                    passed: Callable[[], Response], exhausted: Callable[[], Response],
                    spent: Callable[[], Response] | None = None,
                    ways: Callable[[], OtherWays] | None = None):
        """Check a typed code: on to `passed`, or `exhausted` when this code used the last
        try, or `spent` (default: `exhausted`) when the tries were already used up (by a
        parallel request, say), or the page again saying what was wrong (with `ways()`:
        worked out only then, never for a right code)."""
        result = check_code(challenge_id, code[:12])
        if result.outcome is CheckOutcome.OK:
            return passed()
        if result.outcome is CheckOutcome.EXHAUSTED:
            return exhausted() if result.last_try or spent is None else spent()
        return self.page(challenge_id, hidden, status=400, ways=ways() if ways else None,
                         error=self.wrong_code_message(result.outcome, result.tries_left))

    def answer_resend(self, challenge: Challenge, phone: str | None, hidden: dict[str, str],
                      *, ways: Callable[[], OtherWays] | None = None):
        """Send a new code and show the page again, saying it was sent or why not."""
        if phone is None:  # forgot password for an unknown CCCD: act as if sent
            return redirect(url_for(self.check_endpoint, **hidden), 303)
        result = self.send(challenge, phone, announce=False)
        if result.sent or not self.reveal_phone:
            if self.reveal_phone:
                self.leave_notice(challenge.id, f"Đã gửi lại mã OTP tới số {mask_phone(phone)}.")
            return redirect(url_for(self.check_endpoint, **hidden), 303)
        error = f"Chưa gửi được mã OTP tới số {mask_phone(phone)}. {result.message}"
        return self.page(challenge.id, hidden, error=error, status=429,
                         ways=ways() if ways else None)
