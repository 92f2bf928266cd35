"""Structured JSON logs with a request id; values that could identify someone never appear.

Each request gets an id (a sane incoming X-Request-ID is kept, so a load
balancer's id follows the request); it is echoed in the response and added
to every log line written while the request runs.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Belt and braces: a 12-digit CCCD or a phone number that slipped into a message is masked.
_CCCD = re.compile(r"(?<!\d)(\d{3})\d{7}(\d{2})(?!\d)")
_PHONE = re.compile(r"(\+?84|0)(\d{2})\d{5}(\d{2})(?!\d)")


def scrub(message: str) -> str:
    """Mask CCCD and phone numbers in a log message."""
    message = _CCCD.sub(r"\1*******\2", message)
    return _PHONE.sub(r"\1\2*****\3", message)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extras."""

    EXTRAS = ("connector", "operation", "status", "ms")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        if has_request_context() and "request_id" in g:
            entry["request_id"] = g.request_id
        for name in self.EXTRAS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(fmt: str, level: str) -> None:
    """Send every log line to stderr in the chosen format."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def request_id_for(incoming: str) -> str:
    """The id of a request: the caller's X-Request-ID when it is sane, else a new one."""
    return incoming if REQUEST_ID.match(incoming) else secrets.token_hex(8)


def init_app(app: Flask) -> None:
    @app.before_request
    def _request_id():
        g.request_id = request_id_for(request.headers.get("X-Request-ID", ""))

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
        return response
