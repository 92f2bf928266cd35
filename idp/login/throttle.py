"""Failed-login counting: progressive delay, then a temporary lockout (DESIGN §7).

One implementation for citizens (keyed by the typed CCCD) and staff (keyed by
username); the key prefix keeps their counters apart.
"""

from __future__ import annotations

import time

from idp.provider import provider


class Throttle:
    """Counters in the state store under `<prefix>login-fail:<who>` and friends."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def _key(self, kind: str, who: str) -> str:
        return f"{self.prefix}login-{kind}:{who}"

    def throttled(self, who: str) -> bool:
        """Locked out, or trying again sooner than the progressive delay allows."""
        p = provider()
        cfg = p.settings.login
        if p.state.get(self._key("lock", who)) is not None:
            return True
        failures = p.state.count(self._key("fail", who))
        if failures < cfg.delay_after_failures:
            return False
        last = p.state.get(self._key("last-fail", who))
        wait = 2 ** (failures - cfg.delay_after_failures)
        return last is not None and time.time() < last["at"] + wait

    def record_failure(self, who: str) -> None:
        """Count one failure; enough of them lock `who` for `login.lockout_seconds`."""
        p = provider()
        cfg = p.settings.login
        failures = p.state.incr(self._key("fail", who), cfg.failure_window_seconds)
        p.state.put(self._key("last-fail", who), {"at": time.time()},
                    cfg.failure_window_seconds)
        if failures >= cfg.lockout_after_failures:
            p.state.put(self._key("lock", who), {"at": time.time()}, cfg.lockout_seconds)
            p.state.delete(self._key("fail", who))

    def forgive(self, who: str) -> None:
        """A complete login clears the failures (not a lockout in force)."""
        state = provider().state
        state.delete(self._key("fail", who))
        state.delete(self._key("last-fail", who))

    def unlock(self, who: str) -> None:
        """Staff lift a lockout and its failures."""
        self.forgive(who)
        provider().state.delete(self._key("lock", who))

    def locked(self, who: str) -> bool:
        return provider().state.get(self._key("lock", who)) is not None

