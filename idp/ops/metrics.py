"""Prometheus metrics: requests per endpoint, logins, OTPs, connectors, back-channel logout.

Under gunicorn every worker is a process: `idp serve` points
PROMETHEUS_MULTIPROC_DIR at a fresh directory, and /metrics aggregates the
workers' files there. Without it (tests, a single process) the default
registry is served. What the database holds (the back-channel backlog, the
signing keys' ages) is read when /metrics is scraped, by the worker answering.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from datetime import UTC

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from idp.provider import provider

METHODS = frozenset({"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
"""Request methods counted by name; anything a client invents is counted as "other"."""
REQUESTS = Counter("idp_http_requests_total", "HTTP requests", ["endpoint", "method", "status"])
LATENCY = Histogram(
    "idp_http_request_duration_seconds", "HTTP request latency", ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LOGINS = Counter("idp_logins_total", "Login steps by method and result", ["step", "result"])
OTPS = Counter("idp_otp_total", "OTP codes sent, refused and checked", ["event", "result"])
BACKCHANNEL = Counter("idp_backchannel_logout_total",
                      "Back-channel logout attempts: success, failure (retried), abandoned",
                      ["result"])

# Audit events that are also counted: the audit trail is the one place every
# security event passes through.
_COUNTED = {
    "login": (LOGINS, "login"),
    "login.password": (LOGINS, "password"),
    "login.otp": (LOGINS, "otp"),
    "login.totp": (LOGINS, "totp"),
    "otp.send": (OTPS, "send"),
    "register.otp": (OTPS, "register"),
}


def count_event(event: str, result: str) -> None:
    """Count an audit event that has a metric."""
    if event in _COUNTED:
        metric, label = _COUNTED[event]
        metric.labels(label, result).inc()


def _registry() -> CollectorRegistry | None:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


# Labelled children looked up once per label set: `labels()` validates and locks on every
# call, and this runs on every response.
_latency: dict[str, object] = {}
_requests: dict[tuple[str, str, int], object] = {}


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency."""
    if (timer := _latency.get(endpoint)) is None:
        timer = _latency[endpoint] = LATENCY.labels(endpoint)
    timer.observe(seconds)
    key = (endpoint, method if method in METHODS else "other", status)
    if (counter := _requests.get(key)) is None:
        counter = _requests[key] = REQUESTS.labels(endpoint, key[1], str(status))
    counter.inc()


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        endpoint = request.endpoint or "unknown"
        if endpoint != "ops.metrics" and "started" in g:
            observe_request(endpoint, request.method, response.status_code,
                            time.perf_counter() - g.started)
        return response

    @app.route("/metrics", endpoint="ops.metrics")
    def metrics():
        registry = _registry()
        body = generate_latest(registry) if registry else generate_latest()
        stored = CollectorRegistry()
        stored.register(StoredStateCollector(provider().db.engine,
                                             current_app.extensions.get("idp.scrape_gauges", [])))
        return Response(body + generate_latest(stored), mimetype=CONTENT_TYPE_LATEST)


def read_at_scrape(app: Flask, gauges: Callable[[Engine], Iterable[Metric]]) -> None:
    """Have /metrics read `gauges(engine)` from the database at every scrape. The package
    that owns the data says what to read, so this module imports none of them."""
    app.extensions.setdefault("idp.scrape_gauges", []).append(gauges)


class StoredStateCollector:
    """Gauges read from the database at scrape time (the signing keys' and whatever the
    packages added with `read_at_scrape`)."""

    def __init__(self, engine: Engine, readers: list[Callable[[Engine], Iterable[Metric]]]):
        self.engine = engine
        self.readers = [signing_key_gauges, *readers]

    def collect(self):
        up = GaugeMetricFamily("idp_stored_state_up",
                               "1 when the database answered this scrape's questions")
        try:
            families = [family for read in self.readers for family in read(self.engine)]
        except SQLAlchemyError:  # the database is away: the process metrics still count
            families = []
        up.add_metric([], float(bool(families)))
        yield from (up, *families)


def signing_key_gauges(engine: Engine) -> Iterable[Metric]:
    """How old each current signing key is (rotation overdue) and whether its successor
    is published."""
    from keys import list_keys

    now = time.time()
    age = GaugeMetricFamily("idp_signing_key_age_seconds",
                            "Time since the current signing key began signing",
                            labels=["alg"])
    successor = GaugeMetricFamily("idp_signing_key_next_published",
                                  "1 when the next signing key is published in the JWKS",
                                  labels=["alg"])
    with Session(engine) as session:
        keys = list_keys(session)
    for alg in sorted({key.alg for key in keys}):
        current = [k for k in keys if k.alg == alg and k.state == "current"]
        if current and current[0].activated_at:
            activated = current[0].activated_at
            if activated.tzinfo is None:  # SQLite gives back naive UTC
                activated = activated.replace(tzinfo=UTC)
            age.add_metric([alg], now - activated.timestamp())
        successor.add_metric([alg], float(any(k.alg == alg and k.state == "next"
                                              for k in keys)))
    return [age, successor]
