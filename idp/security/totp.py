"""TOTP (RFC 6238) second factors, for citizens' authenticator apps and for staff.

A code is 6 digits, accepted one 30-s step either side of now, and only once (a used
code is remembered while it could still be valid). A secret being enrolled waits in the
state store, sealed, and stays the same on every reload until it expires, so the QR code
a person scanned is the one their code is checked against.
"""

from __future__ import annotations

import pyotp

from idp.params import parse_number
from idp.provider import provider
from idp.security.sealed import seal, unseal
from idp.store.models import Account

_PENDING_PURPOSE = "totp-pending"
ACCOUNT_PURPOSE = "account-totp"
"""What a citizen's enrolled secret is sealed for on the account row."""
REPLAY_WINDOW = 90
"""How long a used code is remembered: the ±1 step window keeps it valid for 90 s."""


def clean_code(code: str) -> str | None:
    """The typed code without spaces, if it has the shape of one (6 ASCII digits: pyotp
    would read '²' or full-width digits as the digits they look like)."""
    code = "".join(code.split())
    return code if parse_number(code, maximum=999_999) is not None and len(code) == 6 else None


def code_matches(secret: str, code: str) -> bool:
    """Whether `code` is a code of `secret` now (one step of clock drift either side)."""
    clean = clean_code(code)
    return clean is not None and pyotp.TOTP(secret).verify(clean, valid_window=1)


def first_use(owner: str, code: str, ttl: float) -> bool:
    """Mark a right code of `owner` as used for `ttl` seconds; False when it already was
    (a replayed or shoulder-surfed code)."""
    return provider().state.add(f"totp-used:{owner}:{clean_code(code)}", {}, ttl)


def pending_secret(key: str, ttl: float) -> tuple[str, bool]:
    """The secret being enrolled under `key`, the same until `ttl` seconds after it was
    made; and whether it was made just now."""
    state = provider().state
    record = state.get(key)
    if record is not None:
        return unseal(record["s"], _PENDING_PURPOSE), False
    secret = pyotp.random_base32()
    state.put(key, {"s": seal(secret, _PENDING_PURPOSE)}, ttl)
    return secret, True


def offered_secret(key: str) -> str | None:
    """The secret pending under `key`, or None once it expired."""
    record = provider().state.get(key)
    return unseal(record["s"], _PENDING_PURPOSE) if record is not None else None


def verify_account_code(account: Account, code: str) -> bool:
    """A login code from the citizen's app: valid now (±1 step) and never used before."""
    if account.totp_secret is None:
        return False
    secret = unseal(account.totp_secret, ACCOUNT_PURPOSE)
    return code_matches(secret, code) and first_use(str(account.id), code, REPLAY_WINDOW)
