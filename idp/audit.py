"""Append-only audit trail of security events (DESIGN §7).

Events are written in their own transaction so a failure that rolls back the
business change still leaves its trace.
"""

from __future__ import annotations

import logging

from flask import has_request_context, request

from idp.provider import provider
from idp.store.models import AuditEvent

log = logging.getLogger("idp.audit")


def record_event(
    event: str,
    result: str,
    *,
    account_id: int | None = None,
    client_id: str | None = None,
    actor: str | None = None,
    **detail,
) -> None:
    """Append one event; `detail` must never hold a password, OTP, token or full CCCD."""
    ip = user_agent = None
    if has_request_context():
        ip = request.remote_addr
        user_agent = (request.user_agent.string or "")[:300]
    row = AuditEvent(
        event=event,
        result=result,
        account_id=account_id,
        client_id=client_id,
        actor=actor,
        ip=ip,
        user_agent=user_agent,
        detail=detail,
    )
    with provider().db.begin() as session:
        session.add(row)
    log.info("%s %s account=%s client=%s", event, result, account_id, client_id)
