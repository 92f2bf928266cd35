"""What a finished login does to the browser's SSO session (shared by every login method)."""

from __future__ import annotations

from idp.oidc.backchannel import notify_portals
from idp.sessions import SsoSession, create_session, current_session, end_session, reauthenticate


def start_login_session(account_id: int, now: int, acr: str, amr: list[str]) -> SsoSession:
    """Renew this browser's session for the same account, or replace another account's
    (whose portals are told through back-channel logout)."""
    previous = current_session()
    if previous is not None and previous.account_id == account_id:
        return reauthenticate(previous, now, acr, amr)
    if previous is not None and (ended := end_session(previous.sid)) is not None:
        notify_portals(ended)
    return create_session(account_id, now, acr, amr)
