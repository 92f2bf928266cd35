"""SSO sessions: one browser session that serves every portal.

A session lives in the state store under its `sid` (the value portals see in
ID tokens and logout tokens); the browser holds only the sid in a cookie. The
stored record is kept small (short keys) because millions may be alive at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field

from flask import Response, g, request

from idp.config import Settings
from idp.provider import provider

SESSION_COOKIE = "idp_session"
BROWSER_COOKIE = "idp_browser"
_BROWSER_ID = re.compile(r"[A-Za-z0-9_-]{20,64}")


def cookie_name(name: str, settings: Settings | None = None) -> str:
    """`name` with the `__Host-` prefix where the deployment is https: browsers then accept
    the cookie only if Secure, with Path=/ and no Domain, so a sibling domain of a national
    domain can neither plant nor overwrite it."""
    settings = settings or provider().settings
    https = settings.server.issuer.startswith("https://") and settings.session.cookie_secure
    return f"__Host-{name}" if https else name


@dataclass
class SsoSession:
    """A logged-in browser."""

    sid: str
    account_id: int
    auth_time: int
    acr: str
    amr: list[str]
    expires: float
    clients: list[str] = field(default_factory=list)

    def to_record(self) -> dict:
        return {
            "a": self.account_id,
            "t": self.auth_time,
            "r": self.acr,
            "m": self.amr,
            "e": self.expires,
            "c": self.clients,
        }

    @classmethod
    def from_record(cls, sid: str, record: dict) -> SsoSession:
        return cls(
            sid, record["a"], record["t"], record["r"], record["m"], record["e"], record["c"]
        )


def _ttl(session: SsoSession) -> float:
    idle = provider().settings.session.idle_timeout
    return max(1.0, min(idle, session.expires - time.time()))


def _save(session: SsoSession) -> None:
    provider().state.put(f"sso:{session.sid}", session.to_record(), _ttl(session))


def create_session(account_id: int, auth_time: int, acr: str, amr: list[str]) -> SsoSession:
    """Start a new session (always a new sid, so a planted cookie is worthless)."""
    lifetime = provider().settings.session.lifetime
    session = SsoSession(
        sid=secrets.token_urlsafe(24),
        account_id=account_id,
        auth_time=auth_time,
        acr=acr,
        amr=amr,
        expires=auth_time + lifetime,
    )
    _save(session)
    provider().state.add_member(f"acct-sessions:{account_id}", session.sid, lifetime)
    g.new_sso_session = session
    return session


def reauthenticate(session: SsoSession, auth_time: int, acr: str, amr: list[str]) -> SsoSession:
    """The same account logged in again (prompt=login, max_age): keep the sid, renew the rest.

    The sid stays because portals hold it (ID tokens, back-channel logout). It cannot have
    been planted: its cookie is `__Host-` on https, and this runs only when the browser's
    session already belongs to the account that just proved itself again."""
    session.auth_time, session.acr, session.amr = auth_time, acr, amr
    _save(session)
    return session


def load_session(sid: str | None) -> SsoSession | None:
    """The live session with this sid, or None."""
    if not sid or len(sid) > 64:
        return None
    record = provider().state.get(f"sso:{sid}")
    if record is None:
        return None
    session = SsoSession.from_record(sid, record)
    return session if session.expires > time.time() else None


def current_session() -> SsoSession | None:
    """The session of the browser making this request."""
    if "new_sso_session" in g:
        return g.new_sso_session
    return load_session(request.cookies.get(cookie_name(SESSION_COOKIE)))


def touch_session(session: SsoSession, client_id: str | None = None) -> None:
    """Record a portal served by this session and restart its idle timer."""
    if client_id and client_id not in session.clients:
        session.clients.append(client_id)
    _save(session)


def end_session(sid: str) -> SsoSession | None:
    """Delete the session; returns it (once) so its portals can be told."""
    state = provider().state
    record = state.take(f"sso:{sid}")
    if current_session_id() == sid:
        g.ended_sso_session = True
        rotate_browser_id()
    if record is None:
        return None
    session = SsoSession.from_record(sid, record)
    state.remove_member(f"acct-sessions:{session.account_id}", sid)
    return session


def account_sessions(account_id: int) -> list[SsoSession]:
    """Every live session of an account (on any browser)."""
    sids = provider().state.members(f"acct-sessions:{account_id}")
    return [s for s in (load_session(sid) for sid in sids) if s is not None]


def end_account_sessions(account_id: int) -> list[SsoSession]:
    """End every session of an account; returns those that were live."""
    sids = provider().state.members(f"acct-sessions:{account_id}")
    return [s for s in (end_session(sid) for sid in sids) if s is not None]


def session_handle(sid: str) -> str:
    """What pages and audit rows name a session by: the sid is the session cookie and
    never goes into HTML or the log."""
    key = provider().settings.server.secret_key.encode()
    return hmac.new(key, f"session-handle:{sid}".encode(), hashlib.sha256).hexdigest()[:24]


def current_session_id() -> str | None:
    """The sid in this browser's cookie, if any."""
    if "new_sso_session" in g:
        return g.new_sso_session.sid
    return request.cookies.get(cookie_name(SESSION_COOKIE))


def browser_id() -> str:
    """A random id for this browser, kept in a cookie; binds interactions to it."""
    if "browser_id" not in g:
        value = request.cookies.get(cookie_name(BROWSER_COOKIE), "")
        if not _BROWSER_ID.fullmatch(value):
            value = secrets.token_urlsafe(24)
            g.set_browser_cookie = True
        g.browser_id = value
    return g.browser_id


def rotate_browser_id() -> str:
    """Give this browser a new id (sent in this response) and return it. Called on every
    change of authentication state (OWASP session management), so an id planted in the
    browser before a login is worth nothing after it."""
    g.browser_id = secrets.token_urlsafe(24)
    g.set_browser_cookie = True
    return g.browser_id


def browser_record(key: str, record_id: str, browser: str) -> dict | None:
    """The state-store record `<key>:<record_id>` if it exists and was started in `browser`
    (compared in constant time); None otherwise, also for an id no record could have."""
    if not record_id or len(record_id) > 64:
        return None
    data = provider().state.get(f"{key}:{record_id}")
    if data is None or not secrets.compare_digest(data["browser"], browser):
        return None
    return data


def write_cookies(response: Response) -> Response:
    """Set or clear the session and browser cookies decided during this request."""
    secure = provider().settings.session.cookie_secure
    flags = {"secure": secure, "httponly": True, "samesite": "Lax", "path": "/"}
    if "new_sso_session" in g:
        session = g.new_sso_session
        response.set_cookie(cookie_name(SESSION_COOKIE), session.sid, **flags)
    elif g.get("ended_sso_session"):
        response.delete_cookie(cookie_name(SESSION_COOKIE), **flags)
    if g.get("set_browser_cookie"):
        response.set_cookie(cookie_name(BROWSER_COOKIE), g.browser_id,
                            max_age=400 * 24 * 3600, **flags)
    return response
