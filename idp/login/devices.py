"""Browsers a person has logged in from: OWASP's device cookies (DESIGN §7, owner first).

After a complete login the browser keeps a signed cookie with one entry per login name
used in it: a keyed hash of the name (never the CCCD itself) and a random nonce. Failed
passwords from a browser without such an entry are counted per login name and can pause
such browsers; a browser with one is counted by its nonce alone. So a stranger's failures
from anywhere never lock the owner out of a browser they used before, and a stolen
cookie buys nothing but its own ten tries (it is no credential: the password and the
second factor are still asked).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from flask import Response, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from idp.provider import provider
from idp.sessions import cookie_name

COOKIE = "idp_device"
MAX_ENTRIES = 6
"""Login names one browser remembers (a family computer, a counter PC); the oldest goes."""


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(provider().settings.server.secret_key, salt="idp-device")


def _lifetime() -> int:
    return provider().settings.login.device_cookie_days * 24 * 3600


def _tag(realm: str, login_name: str) -> str:
    key = hashlib.sha256(b"device:" + provider().settings.server.secret_key.encode()).digest()
    return hmac.new(key, f"{realm}:{login_name}".encode(), hashlib.sha256).hexdigest()[:20]


def _entries() -> list[list]:
    """This browser's entries [tag, nonce, issued], newest last (read once per request)."""
    if "device_entries" not in g:
        raw = request.cookies.get(cookie_name(COOKIE), "")
        entries: list[list] = []
        if raw and len(raw) < 2048:
            try:
                loaded = _serializer().loads(raw, max_age=_lifetime())
                entries = [e for e in loaded if isinstance(e, list) and len(e) == 3]
            except BadSignature:
                entries = []
        g.device_entries = entries
    return g.device_entries


def device_of(realm: str, login_name: str) -> str | None:
    """The nonce of this browser's entry for `login_name`, or None (an unknown browser)."""
    tag = _tag(realm, login_name)
    for entry_tag, nonce, _issued in _entries():
        if hmac.compare_digest(str(entry_tag).encode(), tag.encode()):
            return str(nonce)
    return None


def remember_device(realm: str, login_name: str) -> str:
    """Mark this browser as one `login_name` logged in from; returns its nonce."""
    tag = _tag(realm, login_name)
    kept = [e for e in _entries() if e[0] != tag]
    nonce = device_of(realm, login_name) or secrets.token_urlsafe(12)
    g.device_entries = (kept + [[tag, nonce, int(time.time())]])[-MAX_ENTRIES:]
    g.write_device_cookie = True
    return nonce


def write_device_cookie(response: Response) -> Response:
    """Set the device cookie when this request remembered a login."""
    if g.get("write_device_cookie"):
        response.set_cookie(
            cookie_name(COOKIE), _serializer().dumps(g.device_entries), max_age=_lifetime(),
            secure=provider().settings.session.cookie_secure, httponly=True, samesite="Lax",
            path="/",
        )
    return response
