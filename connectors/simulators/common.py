"""What every simulator shares: bearer-key check, artificial delay, JSON errors, input parsing."""

from __future__ import annotations

import hmac
import time
from datetime import date
from typing import Any

from flask import Flask, Response, abort, jsonify, request
from werkzeug.exceptions import HTTPException

from connectors.base import PersonQuery


def make_simulator(import_name: str, api_key: str, delay: float) -> Flask:
    """A Flask app that refuses a wrong bearer key (401) and waits `delay` s before answering.

    `POST /_control/delay {"seconds": x}` (same key, never delayed) changes the
    delay while the simulator runs, so a test can make a registry slow.
    """
    app = Flask(import_name)
    app.config["SIMULATOR_DELAY"] = float(delay)
    expected = f"Bearer {api_key}".encode()

    @app.before_request
    def _wait_and_authorize() -> tuple[Response, int] | None:
        if not request.path.startswith("/_control/"):
            time.sleep(app.config["SIMULATOR_DELAY"])
        sent = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(sent, expected):
            return jsonify(error="invalid_api_key"), 401
        return None

    @app.post("/_control/delay")
    def _set_delay() -> Response:
        seconds = json_body().get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            abort(400)
        app.config["SIMULATOR_DELAY"] = float(seconds)
        return jsonify(seconds=float(seconds))

    @app.errorhandler(HTTPException)
    def _json_error(error: HTTPException) -> tuple[Response, int]:
        name = (error.name or "error").lower().replace(" ", "_")
        return jsonify(error=name), error.code or 500

    return app


def json_body() -> dict[str, Any]:
    """The request's JSON object; 400 when the body is not one."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400)
    return body


def text(body: dict[str, Any], key: str) -> str:
    """A required string field; 400 when missing or not a string."""
    value = body.get(key)
    if not isinstance(value, str) or not value:
        abort(400)
    return value


def person_from(body: dict[str, Any]) -> PersonQuery:
    """The cccd, full_name and birthdate (YYYY-MM-DD) fields; 400 when one is bad."""
    try:
        birthdate = date.fromisoformat(text(body, "birthdate"))
    except ValueError:
        abort(400)
    return PersonQuery(text(body, "cccd"), text(body, "full_name"), birthdate)
