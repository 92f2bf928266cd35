"""Owner-first throttling of password logins (DESIGN §7; OWASP's device cookies, NIST SP
800-63B-4 §3.2.2: rate limiting must not let a stranger deny the owner).

A browser the person logged in from before (its device cookie) is counted on its own and
meets no captcha, wait or address limit. Every other browser shares one count per login
name: from a few failures on it types a captcha, then waits a growing number of seconds,
then is told that logins from it are paused until a given time. Nothing here depends on
whether the password was right, so the answers say nothing about it.

One implementation for citizens (keyed by the typed CCCD) and staff (by username).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum

from idp.limits import Window
from idp.login.devices import device_of
from idp.provider import provider


class Gate(Enum):
    OPEN = "open"
    """Check the password."""
    CAPTCHA = "captcha"
    """Type the captcha first (nothing was counted)."""
    WAIT = "wait"
    """Try again in `wait_seconds` (nothing was counted)."""
    PAUSED = "paused"
    """Logins for this name from this browser are paused until `until`."""
    ADDRESS_PAUSED = "address_paused"
    """Too many attempts from this network address; until `until`."""


@dataclass
class GateAnswer:
    gate: Gate
    wait_seconds: int = 0
    until: float = 0.0


@dataclass(frozen=True)
class LoginThrottle:
    """The password throttle of one realm (`citizen` or `staff`) and its named limits."""

    realm: str
    failures: str
    """Limit: failures per login name from unknown browsers."""
    device_failures: str
    """Limit: failures from one known browser."""
    attempts: str
    """Limit: password checks per network address from unknown browsers."""
    address_failures: str | None = None
    """Limit: failures per address after which unknown browsers there get the captcha."""

    def known_device(self, who: str) -> str | None:
        """This browser's device nonce for `who`, unless its own failures used it up."""
        nonce = device_of(self.realm, who)
        if nonce is None or provider().limits.spent(self.device_failures, nonce):
            return None
        return nonce

    def captcha_needed(self, who: str | None, ip: str | None) -> bool:
        """Whether an unknown browser must type a captcha with its next try for `who`
        (None: the name is not typed yet; only the address decides)."""
        if who is not None and self.known_device(who) is not None:
            return False
        checks = {}
        if who is not None:
            checks["failures"] = (self.failures, (who,))
        if self.address_failures:
            checks["address"] = (self.address_failures, (ip,))
        windows = dict(zip(checks, provider().limits.windows(*checks.values()), strict=True))
        return self._captcha(windows.get("failures"), windows.get("address"))

    def _captcha(self, failures: Window | None, address: Window | None) -> bool:
        if address is not None and address.spent:
            return True
        threshold = provider().settings.login.captcha_after_failures
        return failures is not None and failures.count >= threshold

    def check(self, who: str, ip: str | None, *, captcha_ok: bool) -> GateAnswer:
        """May a password for `who` be checked now? Counts the attempt when it may."""
        if self.known_device(who) is not None:
            return GateAnswer(Gate.OPEN)
        limits = provider().limits
        checks = [(self.failures, (who,)), (self.attempts, (ip,))]
        if self.address_failures:
            checks.append((self.address_failures, (ip,)))
        # Every window this step consults, read in one round trip.
        failures, attempts, *address = limits.windows(*checks)
        if failures.spent:
            return GateAnswer(Gate.PAUSED, until=failures.resets_at)
        if attempts.spent:
            return GateAnswer(Gate.ADDRESS_PAUSED, until=attempts.resets_at)
        if wait := self._wait(who, failures.count):
            return GateAnswer(Gate.WAIT, wait_seconds=wait)
        if not captcha_ok and self._captcha(failures, address[0] if address else None):
            return GateAnswer(Gate.CAPTCHA)
        limits.hit(self.attempts, ip)
        return GateAnswer(Gate.OPEN)

    def _wait(self, who: str, failures: int) -> int:
        delay_after = provider().settings.login.delay_after_failures
        if failures < delay_after:
            return 0
        last = provider().state.get(self._last_key(who))
        if last is None:
            return 0
        ready = last["at"] + 2 ** (failures - delay_after)
        return max(0, int(ready - time.time() + 0.999))

    def _last_key(self, who: str) -> str:
        return provider().limits.state_key("last-fail", self.realm, who)

    def record_failure(self, who: str, ip: str | None) -> None:
        """Count a failed login for `who` from this browser."""
        p = provider()
        nonce = self.known_device(who)
        if nonce is not None:
            p.limits.hit(self.device_failures, nonce)
            return
        counted = [(self.failures, (who,))]
        if self.address_failures:
            counted.append((self.address_failures, (ip,)))
        p.limits.hits_left_all(*counted)
        p.state.put(self._last_key(who), {"at": time.time()},
                    p.limits.resets_at(self.failures, who) - time.time() + 1)

    def forgive_device(self, who: str) -> None:
        """A complete login from this browser clears its own failures (a stranger's failures
        for the name stay counted: forgiving them would hand the stranger fresh tries)."""
        nonce = device_of(self.realm, who)
        if nonce is not None:
            provider().limits.clear(self.device_failures, nonce)

    def paused(self, who: str) -> bool:
        """Whether unknown browsers are paused for `who` (what the helpdesk sees)."""
        return provider().limits.spent(self.failures, who)

    def paused_until(self, who: str) -> float | None:
        """Until when this browser may not try `who` (None: it may, or it is a known one)."""
        if self.known_device(who) is not None or not self.paused(who):
            return None
        return provider().limits.resets_at(self.failures, who)

    def failures_counted(self, who: str) -> int:
        return provider().limits.count(self.failures, who)

    def lift(self, who: str) -> None:
        """Staff lift a pause: the failures counted for `who` are forgotten."""
        provider().limits.clear(self.failures, who)
        provider().state.delete(self._last_key(who))


CITIZENS = LoginThrottle("citizen", "login.failures.cccd", "login.failures.device",
                         "login.attempts.address", "login.failures.address")
STAFF = LoginThrottle("staff", "staff.failures.username", "staff.failures.device",
                      "staff.attempts.address")
