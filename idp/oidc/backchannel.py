"""Back-channel logout (OIDC Back-Channel Logout 1.0): tell every portal of a session, durably.

A logout first writes one delivery per portal to the database (idp/oidc/deliveries.py),
then tries each at once on a small thread pool, so the logout never waits for a portal.
A delivery that fails is retried with exponential backoff by whichever node claims it
first (every `idp serve` worker runs a dispatcher), until the portal answers 200 or
[logout] backchannel_give_up_after passes; then it is kept as failed for the operator.
At least once: a portal may receive a logout twice and deduplicates by `jti`, which every
attempt of one delivery shares (each attempt signs a fresh token, so `exp` is current).
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor, wait

import requests
from flask import Flask, current_app
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.engine import Engine, Row
from sqlalchemy.exc import SQLAlchemyError

from idp.audit import record_event
from idp.config import LogoutSettings
from idp.oidc import deliveries
from idp.oidc.signed_tokens import issue_logout_token
from idp.oidc.subject import subject_for
from idp.ops.metrics import BACKCHANNEL
from idp.provider import provider
from idp.sessions import SsoSession
from idp.store.models import Account, Client

log = logging.getLogger(__name__)
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="backchannel")
POLL_SECONDS = 2.0
"""How often an idle dispatcher looks for due deliveries (with jitter, so nodes spread)."""
BATCH = 50
"""Deliveries one dispatcher claims at a time."""


def _lease(settings: LogoutSettings) -> float:
    """How long a claimed delivery is left to its node: one attempt and a margin."""
    return settings.backchannel_timeout + 10


def notify_portals(session: SsoSession) -> list[Future]:
    """Owe a logout token to each portal used in `session` (stored before anything is
    sent) and try each at once; returns the futures of those first attempts."""
    p = provider()
    db = p.db.session
    account = db.get(Account, session.account_id)
    if account is None:
        return []
    owed = []
    for client_id in session.clients:
        client = db.get(Client, client_id)
        if client is None or not client.backchannel_logout_uri:
            continue
        owed.append({"client_id": client_id, "account_id": account.id,
                     "jti": secrets.token_urlsafe(16),
                     "subject": subject_for(account.subject, client), "sid": session.sid})
    if not owed:
        return []
    settings = p.settings.logout
    rows = deliveries.enqueue(p.db.engine, owed, settings.backchannel_give_up_after,
                              _lease(settings))
    app = current_app._get_current_object()
    return [_pool.submit(attempt, app, row) for row in rows]


def _backoff(attempts: int, settings: LogoutSettings) -> float:
    wait_seconds = settings.backchannel_retry_first * 2 ** min(attempts - 1, 30)
    return min(settings.backchannel_retry_max, wait_seconds) * random.uniform(0.8, 1.0)


def attempt(app: Flask, row: Row) -> float | None:
    """Send one delivery once and record the outcome. Returns None when the portal has it,
    else when its portal may be tried again."""
    with app.app_context():
        p = provider()
        engine, settings = p.db.engine, p.settings.logout
        client = p.db.session.get(Client, row.client_id)
        if client is None or not client.backchannel_logout_uri:
            deliveries.delivered(engine, row.id)  # the portal no longer takes logouts
            return None
        token = issue_logout_token(row.client_id, row.subject, row.sid,
                                   client.id_token_signed_response_alg, row.jti)
        try:
            response = requests.post(client.backchannel_logout_uri, data={"logout_token": token},
                                     timeout=settings.backchannel_timeout,
                                     allow_redirects=False)
            detail = {"status": response.status_code}
        except requests.RequestException as exc:
            response, detail = None, {"error": type(exc).__name__}
        attempts = row.attempts + 1
        if response is not None and response.status_code == 200:
            deliveries.delivered(engine, row.id)
            BACKCHANNEL.labels("success").inc()
            record_event("logout.backchannel", "success", account_id=row.account_id,
                         client_id=row.client_id, attempts=attempts, **detail)
            return None
        now = time.time()
        retry_at = None if now >= row.give_up_at else now + _backoff(attempts, settings)
        problem = f"HTTP {detail['status']}" if "status" in detail else detail["error"]
        deliveries.attempt_failed(engine, row.id, attempts, problem, retry_at)
        BACKCHANNEL.labels("failure" if retry_at else "abandoned").inc()
        log.warning("back-channel logout to %s failed (attempt %d): %s%s", row.client_id,
                    attempts, detail, "" if retry_at else "; given up")
        if attempts == 1 or retry_at is None:
            # The first failure and the giving up are audited; the retries in between are not.
            record_event("logout.backchannel", "failure", account_id=row.account_id,
                         client_id=row.client_id, attempts=attempts,
                         will_retry=retry_at is not None, **detail)
        return retry_at or now + settings.backchannel_retry_max


def deliver_due(app: Flask, limit: int = BATCH) -> int:
    """Claim the deliveries that are due, made by any node, and try them; returns how many
    were claimed. A portal that fails is tried once per round: its other deliveries wait
    as long as the one that failed."""
    with app.app_context():
        p = provider()
        engine, lease = p.db.engine, _lease(p.settings.logout)
    rows = deliveries.claim_due(engine, limit, lease)
    by_portal: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_portal[row.client_id].append(row)
    wait([_pool.submit(_deliver_to_portal, app, engine, owed) for owed in by_portal.values()])
    return len(rows)


def _deliver_to_portal(app: Flask, engine, owed: list[Row]) -> None:
    for index, row in enumerate(owed):
        retry_at = attempt(app, row)
        if retry_at is not None:
            deliveries.postpone(engine, [later.id for later in owed[index + 1:]], retry_at)
            return


class Dispatcher(threading.Thread):
    """Delivers what is due, made on this node or any other, for the life of the process."""

    def __init__(self, app: Flask) -> None:
        super().__init__(name="backchannel-dispatcher", daemon=True)
        self.app = app

    def run(self) -> None:
        while True:
            try:
                claimed = deliver_due(self.app)
                if random.random() < 0.01:  # now and then: forget long given-up deliveries
                    self._purge()
            except SQLAlchemyError as exc:  # the database is away for a while: keep going
                log.warning("back-channel logout dispatcher: database unavailable (%s)",
                            type(exc).__name__)
                claimed = 0
            except Exception:  # a bug must not end deliveries for the life of the worker
                log.exception("back-channel logout dispatcher")
                claimed = 0
            if claimed < BATCH:
                time.sleep(POLL_SECONDS * random.uniform(0.5, 1.5))

    def _purge(self) -> None:
        with self.app.app_context():
            p = provider()
            keep = p.settings.logout.backchannel_keep_failed
            deliveries.purge_failed(p.db.engine, time.time() - keep)


def start_dispatcher(app: Flask) -> Dispatcher:
    """Run a dispatcher in this process (`idp serve` starts one in every worker)."""
    dispatcher = Dispatcher(app)
    dispatcher.start()
    return dispatcher


def backlog_gauges(engine: Engine) -> list[Metric]:
    """What portals are still owed, read at each /metrics scrape (idp.ops.metrics)."""
    owed = GaugeMetricFamily("idp_backchannel_deliveries",
                             "Back-channel logouts not yet delivered, per portal",
                             labels=["client_id", "state"])
    oldest = GaugeMetricFamily("idp_backchannel_oldest_pending_seconds",
                               "Age of the oldest pending back-channel logout, per portal",
                               labels=["client_id"])
    now = time.time()
    for portal in deliveries.backlog(engine):
        owed.add_metric([portal.client_id, "pending"], portal.pending)
        owed.add_metric([portal.client_id, "failed"], portal.failed)
        if portal.pending:
            oldest.add_metric([portal.client_id], now - portal.oldest)
    return [owed, oldest]
