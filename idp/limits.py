"""Every cap the provider enforces, by name, in one table (DESIGN §7: owner first).

A limit counts one kind of hit per key (a network address, a CCCD, a phone, a browser, a
login in progress) in a fixed window, and refuses once its amount is spent until the window
ends. Each entry says what it counts, who can spend it and what the person then sees: a
limit that a stranger can spend with public data (a CCCD, a phone number) must never stand
between the owner and a login, so those are kept apart from the owner's own (a browser the
citizen logged in from before is counted on its own, and codes a stranger can trigger are
counted per purpose, never against the login's).

Rates are the `limits` package's strings ("6 per hour", "1 per 30 seconds"); "5 per
login" means a window as long as one login may take ([session] transaction_ttl). Operators
change any of them under [limits] in the configuration. Keys are stored as keyed hashes,
so the state store never lists CCCDs or phone numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter

from idp.store.state import StateStore, StoreUnavailable


@dataclass(frozen=True)
class Limit:
    """One named cap: its default rate, what one hit is, who can spend it, what they see."""

    name: str
    default: str
    counts: str
    spent_by: str
    when_spent: str


LIMITS: dict[str, Limit] = {limit.name: limit for limit in (
    # --- the password step --------------------------------------------------------------
    Limit("login.failures.cccd", "10 per hour",
          "a wrong password (or a login whose code tries ran out) for one CCCD from a "
          "browser that has never logged in to it",
          "anyone who knows the CCCD",
          "such browsers get the captcha from the 3rd failure and a growing wait from the "
          "5th ([login]); once spent they are told logins from them are paused until the "
          "window ends. Browsers the owner logged in from are not counted here."),
    Limit("login.failures.device", "10 per hour",
          "a wrong password (or exhausted codes) from one browser the citizen logged in "
          "from before (its device cookie)",
          "only whoever uses that browser",
          "that browser is treated like an unknown one until the window ends"),
    Limit("login.failures.address", "30 per hour",
          "a failed login from an unknown browser, per network address",
          "anyone behind the address (a NAT, a commune office)",
          "unknown browsers there get the captcha on the page before their first try"),
    Limit("login.attempts.address", "300 per hour",
          "a password checked for an unknown browser, per network address",
          "anyone behind the address; a carrier's shared address serves thousands",
          "unknown browsers there are told to wait until the window ends; browsers that "
          "logged in before are not counted"),
    # --- codes (SMS and authenticator app) ------------------------------------------------
    Limit("otp.wrong_codes", "5 per login",
          "a wrong SMS or app code in one login, registration, reset or phone change; a "
          "re-send does not reset it",
          "whoever got past the step before (the password, the registry check)",
          "the attempt ends; a login counts as one failed login and starts again at the "
          "password"),
    Limit("sms.resend_wait", "1 per 30 seconds",
          "a code sent to one phone in one login (or registration, reset, phone change)",
          "the person at that step",
          "the page counts down the seconds; another phone of the account can be chosen "
          "at once"),
    Limit("sms.per_login", "4 per login",
          "a code sent in one login, registration, reset or phone change",
          "the person at that step",
          "the page offers the other ways on (app, other phones, lost phone, counter)"),
    Limit("sms.login.phone", "6 per hour",
          "a login code sent to one phone",
          "only someone who typed the account's password",
          "the code page says no SMS went out and offers the app, other phones, the lost-"
          "phone recovery and the counter"),
    Limit("sms.login.phone_daily", "15 per day",
          "a login code sent to one phone",
          "only someone who typed the account's password",
          "as sms.login.phone"),
    Limit("sms.login.address", "40 per hour",
          "a login code asked for by an unknown browser, per network address (SMS pumping "
          "with stolen passwords)",
          "anyone behind the address who knows some password",
          "as sms.login.phone; browsers that logged in before are not counted"),
    Limit("sms.reset.cccd", "3 per hour",
          "a forgot-password code for one CCCD, per requester: each browser the owner logged "
          "in from has its own count, every other browser shares one",
          "anyone who knows the CCCD (the shared count)",
          "the reset goes on as for an unknown CCCD (no code); the login is untouched"),
    Limit("sms.register.cccd", "3 per hour",
          "a registration code for one CCCD",
          "anyone who knows the CCCD, name, birth date and a matching phone",
          "registration for that CCCD waits until the window ends; the login is untouched"),
    Limit("sms.register.phone", "3 per hour",
          "a registration code sent to one phone",
          "anyone who knows whose phone it is",
          "as sms.register.cccd"),
    Limit("sms.register.address", "30 per hour",
          "a registration code asked for from one network address",
          "anyone behind the address",
          "registrations from there wait until the window ends"),
    Limit("sms.phone_change.phone", "5 per hour",
          "a code to a new phone being added, recovered or set at the counter",
          "the logged-in citizen, a citizen past the password, or staff",
          "that phone gets no code until the window ends"),
    Limit("sms.helpdesk.staff", "30 per hour",
          "a code a staff member sends for a phone reset (a desk shares one address)",
          "that staff member",
          "the staff page says so; another staff member can go on"),
    Limit("time.extensions", "2 per day",
          "more time asked for on one login, registration or password reset (the button "
          "the page offers two minutes before the end), counted for that one record",
          "the person at that step",
          "the page says no more time can be given; they finish or start again"),
    # --- starting things that cost an outside call ----------------------------------------
    Limit("reset.starts.address", "20 per hour",
          "a forgot-password start from one network address",
          "anyone behind the address",
          "the form asks to try again after the window ends"),
    Limit("register.checks.address", "20 per hour",
          "a registry check (carrier, BHXH, Vietnam Post) from one network address",
          "anyone behind the address",
          "the form asks to try again after the window ends"),
    Limit("register.checks.cccd", "5 per hour",
          "a registry check for one CCCD (probing who is who)",
          "anyone who knows the CCCD",
          "registration for that CCCD waits; the login is untouched"),
    Limit("lost_phone.checks", "3 per login",
          "a carrier check of a new number in the lost-phone recovery of one login",
          "only someone past the password",
          "the page points to the counter"),
    Limit("carrier.checks.account", "10 per day",
          "a carrier check caused by one account (adding or recovering a phone)",
          "the account holder",
          "the console or recovery page says to try tomorrow or go to the counter"),
    Limit("account.password_checks", "5 per hour",
          "a wrong current password typed in the account console",
          "the logged-in citizen",
          "the password page asks to try again later"),
    Limit("account.email_links", "5 per hour",
          "a proof link e-mailed from the account console",
          "the logged-in citizen",
          "the e-mail page asks to try again later"),
    Limit("account.totp_enrol_tries", "5 per 10 minutes",
          "a wrong code while adding an authenticator app",
          "the logged-in citizen",
          "a new QR code is shown"),
    Limit("usb.challenges.address", "200 per hour",
          "a USB-token challenge handed out to one network address",
          "anyone behind the address",
          "the USB-token page asks to try again later"),
    Limit("sim.requests.address", "60 per hour",
          "a SIM-signature request from one network address (each costs an MSSP call)",
          "anyone behind the address",
          "the SIM page asks to try again later"),
    Limit("sharing.verifier.address", "600 per hour",
          "a QR-code share read or checked from one verifier's network address (a bank "
          "counter, a hotel desk)",
          "anyone who reads shares from that address",
          "the verifier is asked to try again later; the citizen's share is untouched"),
    # --- staff ----------------------------------------------------------------------------
    Limit("staff.failures.username", "10 per hour",
          "a wrong staff password or app code for one username from a browser that has "
          "never logged in as that member",
          "anyone who knows the username",
          "such browsers are paused until the window ends; the member's own browsers are not"),
    Limit("staff.failures.device", "10 per hour",
          "a wrong staff password or app code from a browser the member logged in from",
          "whoever uses that browser",
          "that browser is treated like an unknown one until the window ends"),
    Limit("staff.attempts.address", "100 per hour",
          "a staff password checked for an unknown browser, per network address",
          "anyone behind the address",
          "unknown browsers there wait until the window ends"),
    Limit("staff.totp_tries", "5 per 5 minutes",
          "a wrong app code after one staff password step",
          "whoever passed that password step",
          "the staff login starts again"),
)}


class UnknownLimit(ValueError):
    """A configuration names a limit that does not exist, or gives a rate that does not parse."""


def parse_rate(name: str, rate: str, login_seconds: int) -> RateLimitItem:
    """The rate item of limit `name`: a `limits` string, or "N per login"; N is at least 1."""
    text = rate.strip()
    try:
        if text.endswith(" per login"):
            amount = int(text.removesuffix(" per login"))
            if amount < 1:
                raise ValueError(text)
            return RateLimitItemPerSecond(amount, login_seconds, namespace=name)
        item = parse(text)
        if item.amount < 1:  # a budget of nothing refuses everyone, the owner included
            raise ValueError(text)
    except ValueError:
        raise UnknownLimit(f"{name}: '{rate}' is not a rate such as \"6 per hour\", "
                           "\"1 per 30 seconds\" or \"5 per login\"") from None
    return type(item)(item.amount, item.multiples, namespace=name)


def check_overrides(overrides: Mapping[str, str]) -> None:
    """Raise UnknownLimit for a misspelt name or a rate that does not parse."""
    for name, rate in overrides.items():
        if name not in LIMITS:
            raise UnknownLimit(f"{name}: no such limit (see idp/limits.py)")
        parse_rate(name, rate, 1)


class _StateStoreStorage(Storage):
    """`limits` storage over the provider's state store, so counters live where every other
    short-lived record does (SQL for the embedded default, Redis in production)."""

    STORAGE_SCHEME = None
    PREFIX = "lim:"
    """Before every counter's key in the state store."""

    def __init__(self, state: StateStore) -> None:
        super().__init__()
        self.state = state

    @property
    def base_exceptions(self) -> type[Exception]:
        return StoreUnavailable

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        value = 0
        for _ in range(amount):
            value = self.state.incr(self.PREFIX + key, expiry)
        return value

    def get(self, key: str) -> int:
        return self.state.count(self.PREFIX + key)

    def get_expiry(self, key: str) -> float:
        return self.state.expires_at(self.PREFIX + key) or time.time()

    def check(self) -> bool:
        try:
            self.state.ping()
        except StoreUnavailable:
            return False
        return True

    def reset(self) -> None:
        return None  # the state store is shared with everything else: never wiped from here

    def clear(self, key: str) -> None:
        self.state.delete(self.PREFIX + key)


@dataclass(frozen=True)
class Window:
    """One limit's current window for one key: hits counted, hits allowed, when it ends."""

    count: int
    amount: int
    resets_at: float
    """When the window ends (now when nothing is counted)."""

    @property
    def spent(self) -> bool:
        """Whether no hit is left in this window."""
        return self.count >= self.amount


Check = tuple[str, Sequence[object]]
"""A limit's name and the parts of the request that key it (`("sms.login.phone", (phone,))`)."""


class Limiter:
    """The named limits of one provider, counted in its state store (shared by every node)."""

    def __init__(self, state: StateStore, overrides: Mapping[str, str], secret: str,
                 login_seconds: int) -> None:
        rates = {name: limit.default for name, limit in LIMITS.items()} | dict(overrides)
        self._items = {name: parse_rate(name, rate, login_seconds)
                       for name, rate in rates.items()}
        self._storage = _StateStoreStorage(state)
        self._window = FixedWindowRateLimiter(self._storage)
        self._secret = hashlib.sha256(b"limits:" + secret.encode()).digest()

    def _ids(self, who: tuple[object, ...]) -> list[str]:
        # A keyed hash: counters name CCCDs, phones and addresses without holding them.
        return [hmac.new(self._secret, str(part).encode(), hashlib.sha256).hexdigest()[:24]
                for part in who]

    def _key(self, name: str, who: tuple[object, ...]) -> str:
        return self._items[name].key_for(*self._ids(who))

    def _counter(self, name: str, who: Sequence[object]) -> str:
        """The state-store key of limit `name`'s counter for `who` (as the storage names it)."""
        return _StateStoreStorage.PREFIX + self._key(name, tuple(who))

    def state_key(self, kind: str, *who: object) -> str:
        """A state-store key for a record kept beside a limit (e.g. the time of the last
        failure), hashed like the counters' keys."""
        return f"{kind}:" + "/".join(self._ids(who))

    def amount(self, name: str) -> int:
        """How many hits the limit allows per window."""
        return self._items[name].amount

    def hit(self, name: str, *who: object) -> bool:
        """Count one hit; False when this one is past the limit."""
        return self._window.hit(self._items[name], *self._ids(who))

    def hits_left(self, name: str, *who: object) -> int:
        """Count one hit; the hits the window still allows after it (negative past the
        limit). Read from the same atomic increment, so among parallel hits exactly one sees
        0: the one that used the last."""
        item = self._items[name]
        return item.amount - self._storage.incr(self._key(name, who), item.get_expiry())

    def windows(self, *checks: Check) -> list[Window]:
        """The current window of each (name, who), read in one call to the state store (a
        step that consults several limits pays one round trip, not one per limit)."""
        keys = [self._counter(name, who) for name, who in checks]
        now = time.time()
        return [Window(count, self._items[name].amount, expires or now)
                for (name, _), (count, expires) in zip(checks, self._storage.state.counters(keys),
                                                       strict=True)]

    def hits_left_all(self, *checks: Check) -> list[int]:
        """`hits_left` of each (name, who), counted in one call (one transaction or
        pipeline), in order."""
        items = [self._items[name] for name, _ in checks]
        values = self._storage.state.incr_many([
            (self._counter(name, who), item.get_expiry())
            for (name, who), item in zip(checks, items, strict=True)])
        return [item.amount - value for item, value in zip(items, values, strict=True)]

    def spent(self, name: str, *who: object) -> bool:
        """Whether the limit is used up for `who` (counts nothing)."""
        return not self._window.test(self._items[name], *self._ids(who))

    def count(self, name: str, *who: object) -> int:
        """Hits counted in the current window."""
        return self._storage.get(self._key(name, who))

    def resets_at(self, name: str, *who: object) -> float:
        """When the current window ends (now when nothing is counted)."""
        return self._storage.get_expiry(self._key(name, who))

    def clear(self, name: str, *who: object) -> None:
        """Forget the hits counted for `who` (staff lift a pause; a proven owner)."""
        self._storage.clear(self._key(name, who))

    def give_back(self, name: str, *who: object) -> None:
        """Take back one hit counted for `who` for something that then did not happen (an
        SMS the gateway refused): counted first, so parallel hits never overshoot."""
        self._storage.state.decr(self._counter(name, who))
