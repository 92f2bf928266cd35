"""Liveness (/healthz) and readiness (/readyz) for the load balancer and the operator."""

from __future__ import annotations

import requests
from flask import Blueprint, jsonify
from sqlalchemy import text

from idp.provider import provider

bp = Blueprint("ops", __name__)


@bp.route("/healthz")
def healthz():
    """The process answers; nothing else is checked (a restart would not help)."""
    return {"status": "ok"}


def _database() -> None:
    with provider().db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _state() -> None:
    provider().state.ping()


def _keys() -> None:
    for alg in ("RS256", "ES256"):
        provider().keys.signing_key(alg)


def _reachable(url: str):
    def check() -> None:
        # Any HTTP answer means reachable; only no answer at all is a failure.
        requests.get(url, timeout=(1, 2))

    return check


def _outside_systems() -> dict:
    """The outside systems this node is configured to call, by name."""
    from idp.simsign.service import sim_available

    settings = provider().settings
    names = ["carrier", "bhxh", "post", *(["mssp"] if sim_available() else [])]
    systems = {name: _reachable(getattr(settings, name).url) for name in names}
    if settings.sms.gateway_url:
        systems["sms"] = _reachable(settings.sms.gateway_url)
    return systems


def _verdicts(checks: dict) -> dict[str, str]:
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # a readiness probe reports every failure, whatever it is
            results[name] = f"unavailable: {type(exc).__name__}"
    return results


@bp.route("/readyz")
def readyz():
    """Every dependency with its own verdict. 503 only when this node cannot serve (its
    database, state store or signing keys): an outside registry that is down is down for
    every node, and taking them all out of the load balancer would stop password logins
    too, so it is reported as "degraded" with 200."""
    own = _verdicts({"database": _database, "state": _state, "signing_keys": _keys})
    outside = _verdicts(_outside_systems())
    if any(value != "ok" for value in own.values()):
        status = "unavailable"
    elif any(value != "ok" for value in outside.values()):
        status = "degraded"
    else:
        status = "ready"
    response = jsonify(status=status, checks={**own, **outside})
    response.status_code = 503 if status == "unavailable" else 200
    return response
