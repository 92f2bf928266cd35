"""One-time challenges for a signing agent to sign: 256 random bits, one purpose, at most 5 minutes.

A challenge is bound to what it was issued for (`login:<interaction>`, `register:<type>`,
`account:<id>`) and to the browser that asked for it. It leaves the store on its first
presentation, whatever comes of it, so a captured signature can never be presented again.
"""

from __future__ import annotations

import re
import secrets
import time

from connectors.pki import new_challenge
from idp.certificates.refusals import CertificateLoginRefused
from idp.provider import provider

CHALLENGE_TTL = 300
"""Seconds a challenge may wait for its signature (the Web eID default is 5 minutes)."""
# new_challenge(): 32 random bytes in base64url without padding.
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


def _key(challenge: str) -> str:
    # The USB token's agent is what signs challenges (a SIM, a digest sent through the MSSP).
    return f"usb-challenge:{challenge}"


def issue_challenge(purpose: str, browser: str, ip: str | None) -> str | None:
    """A fresh challenge for `purpose` in this browser; None when this IP asked too often."""
    p = provider()
    if not p.limits.hit("usb.challenges.address", ip):
        return None
    challenge = new_challenge()
    p.state.put(_key(challenge), {"p": purpose, "b": browser, "t": time.time()}, CHALLENGE_TTL)
    return challenge


def take_challenge(challenge: str, purpose: str, browser: str) -> None:
    """Use up `challenge`; raise CertificateLoginRefused unless it was issued for this
    purpose and browser less than CHALLENGE_TTL seconds ago and never presented before."""
    if not _CHALLENGE.fullmatch(challenge):
        raise CertificateLoginRefused("challenge_unknown", detail="not a challenge")
    record = provider().state.take(_key(challenge))
    if record is None:
        raise CertificateLoginRefused("challenge_unknown",
                                      detail="used, expired or never issued")
    if record["p"] != purpose or not secrets.compare_digest(record["b"], browser):
        raise CertificateLoginRefused("challenge_unknown",
                                      detail="issued for another purpose or browser")
    # The store's expiry may lag (or be a Redis TTL rounded up): check the age itself.
    if time.time() - record["t"] > CHALLENGE_TTL:
        raise CertificateLoginRefused("challenge_expired", detail="older than 5 minutes")
