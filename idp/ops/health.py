"""Liveness (/healthz) and readiness (/readyz) for the load balancer and the operator."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from connectors.base import Probed
from idp.interaction.methods import SIM_SIGNATURE, works_here
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


def _outside_systems() -> dict:
    """The probe of every configured connector that has an outside system, by section."""
    # With SIM login off, the [mssp] defaults name an MSSP that nobody calls.
    idle = set() if works_here(SIM_SIGNATURE) else {"mssp"}
    return {name: connector.probe for name, connector in provider().connectors.items()
            if isinstance(connector, Probed) and name not in idle}


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
