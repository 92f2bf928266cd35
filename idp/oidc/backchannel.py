"""Back-channel logout (OIDC Back-Channel Logout 1.0): tell every portal of a session.

Deliveries run on a small thread pool after the response is decided, each
with a short timeout: a portal that does not answer never blocks the logout;
its failure is logged and audited.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import requests
from flask import Flask, current_app

from idp.audit import record_event
from idp.oidc.subject import subject_for
from idp.oidc.tokens import issue_logout_token
from idp.provider import provider
from idp.sessions import SsoSession
from idp.store.models import Account, Client

log = logging.getLogger(__name__)
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="backchannel")


def notify_portals(session: SsoSession) -> list:
    """Send a logout token to each portal used in `session`; returns the futures."""
    p = provider()
    db = p.db.session
    account = db.get(Account, session.account_id)
    if account is None:
        return []
    deliveries = []
    for client_id in session.clients:
        client = db.get(Client, client_id)
        if client is None or not client.backchannel_logout_uri:
            continue
        token = issue_logout_token(
            client_id, subject_for(account.subject, client), session.sid,
            client.id_token_signed_response_alg,
        )
        deliveries.append((client_id, client.backchannel_logout_uri, token))
    app = current_app._get_current_object()
    timeout = p.settings.logout.backchannel_timeout
    return [
        _pool.submit(_deliver, app, session.account_id, client_id, uri, token, timeout)
        for client_id, uri, token in deliveries
    ]


def _deliver(app: Flask, account_id: int, client_id: str, uri: str, token: str, timeout: float):
    with app.app_context():
        try:
            response = requests.post(
                uri, data={"logout_token": token}, timeout=timeout, allow_redirects=False
            )
            ok = response.status_code == 200
            detail = {"status": response.status_code}
        except requests.RequestException as exc:
            ok, detail = False, {"error": type(exc).__name__}
        if not ok:
            log.warning("back-channel logout to %s failed: %s", client_id, detail)
        record_event(
            "logout.backchannel", "success" if ok else "failure",
            account_id=account_id, client_id=client_id, **detail,
        )
        return ok
