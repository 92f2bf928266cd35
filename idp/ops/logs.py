"""Structured JSON logs with a request id; values that could identify someone never appear.

Each request gets an id (a sane incoming X-Request-ID is kept, so a load
balancer's id follows the request); it is echoed in the response and added
to every log line written while the request runs. The optional access log
writes one line per answered request, with the query's values masked.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, urlencode

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

    EXTRAS = ("connector", "operation", "method", "path", "query", "status", "ms",
              "request_id", "pid")

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


# Query parameters whose values say nothing about a person or a secret; every other value
# (code, state, nonce, tx, id_token_hint, login_hint, ...) is logged as "-".
PLAIN_PARAMETERS = frozenset({
    "client_id", "response_type", "response_mode", "scope", "prompt", "max_age",
    "acr_values", "ui_locales", "code_challenge_method", "error", "display",
})
access = logging.getLogger("idp.access")


def masked_query(query: str) -> str:
    """The query string with every value outside PLAIN_PARAMETERS replaced by "-"."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, v if k in PLAIN_PARAMETERS else "-") for k, v in pairs])


class AccessLog:
    """WSGI middleware around everything (the published documents' fast path included):
    one `idp.access` line per request once the response has started."""

    def __init__(self, wsgi_app: Callable) -> None:
        self._next = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        answer: dict = {}

        def capture(status: str, headers: list, exc_info=None):
            answer["status"], answer["headers"] = status, headers
            return start_response(status, headers, exc_info)

        body = self._next(environ, capture)
        status = int(answer.get("status", "500").split(" ", 1)[0])
        request_id = next((value for name, value in answer.get("headers", [])
                           if name.lower() == "x-request-id"), "")
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        query = masked_query(environ.get("QUERY_STRING", ""))
        ms = round((time.perf_counter() - started) * 1000, 2)
        access.info("%s %s%s %s %.1f ms", method, path, "?" + query if query else "", status,
                    ms, extra={"method": method, "path": path, "query": query,
                               "status": status, "ms": ms, "request_id": request_id,
                               "pid": os.getpid()})
        return body
