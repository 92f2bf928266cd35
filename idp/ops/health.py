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


def _registry(section: str):
    def check() -> None:
        url = getattr(provider().settings, section).url
        # Any HTTP answer means reachable; only no answer at all is a failure.
        requests.get(url, timeout=(1, 2))

    return check


@bp.route("/readyz")
def readyz():
    """Every dependency this node needs to serve logins, each with its own verdict."""
    checks = {"database": _database, "state": _state, "signing_keys": _keys,
              "carrier": _registry("carrier"), "bhxh": _registry("bhxh"),
              "post": _registry("post")}
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # a readiness probe reports every failure, whatever it is
            results[name] = f"unavailable: {type(exc).__name__}"
    ready = all(value == "ok" for value in results.values())
    response = jsonify(status="ready" if ready else "unavailable", checks=results)
    response.status_code = 200 if ready else 503
    return response
