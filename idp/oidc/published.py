"""Discovery and JWKS answered in front of Flask, from memory.

Every portal and every OIDC library fetches these two documents, and they
change only when the signing keys do. Through Flask, the request context,
hooks and response object cost more than gunicorn's own work for them; so a
small WSGI layer answers GET and HEAD of the two paths with the response the
app itself gave the last time (status, body and every header, the security
headers included), adding only what differs per request: the request id and
the metrics the hooks would have recorded. When the document the view would
serve changes (new keys loaded, by this node or found in the database), the
next request goes through Flask again and its response is kept instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from flask import Flask

from idp.oidc.discovery import discovery_document
from idp.ops.logs import request_id_for
from idp.ops.metrics import observe_request


class _Kept:
    """One kept response and the document object it was built from."""

    __slots__ = ("source", "status", "headers", "body")

    def __init__(self, source: bytes, status: str, headers: list, body: bytes) -> None:
        self.source = source
        self.status = status
        self.headers = headers
        self.body = body


class PublishedDocuments:
    """WSGI middleware: the discovery document and the JWKS without a trip through Flask."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        provider = app.extensions["idp.provider"]
        self._next = wsgi_app
        # path -> (endpoint name for metrics, the bytes the view would serve now)
        self._documents: dict[str, tuple[str, Callable[[], bytes]]] = {
            "/.well-known/openid-configuration": (
                "oidc.discovery",
                lambda: discovery_document(provider.issuer,
                                           provider.settings.oauth.require_par),
            ),
            "/jwks": ("oidc.jwks", self._current_jwks(provider.keys)),
        }
        self._kept: dict[str, _Kept] = {}

    @staticmethod
    def _current_jwks(keys) -> Callable[[], bytes]:
        def current() -> bytes:
            keys.maybe_reload()  # what the app's before_request does for every request
            return keys.jwks_json()

        return current

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        document = self._documents.get(path)
        method = environ.get("REQUEST_METHOD", "")
        if document is None or method not in ("GET", "HEAD") or environ.get("QUERY_STRING"):
            return self._next(environ, start_response)
        started = time.perf_counter()
        endpoint, current = document
        try:
            source = current()
        except Exception:
            # Keys not loadable (database down at start): the app answers, with its 503.
            return self._next(environ, start_response)
        kept = self._kept.get(path)
        if kept is None or kept.source is not source:
            return self._through_app(path, source, environ, start_response)
        request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID", ""))
        start_response(kept.status, [*kept.headers, ("X-Request-ID", request_id)])
        observe_request(endpoint, method, 200, time.perf_counter() - started)
        return [b""] if method == "HEAD" else [kept.body]

    def _through_app(self, path: str, source: bytes, environ: dict, start_response: Callable):
        """Let Flask answer, and keep its answer when it is a plain 200 to a GET."""
        status, headers, body = answer_through(self._next, environ, start_response)
        headers = [(name, value) for name, value in headers if name.lower() != "x-request-id"]
        if environ["REQUEST_METHOD"] == "GET" and status.startswith("200") and not any(
                name.lower() == "set-cookie" for name, _ in headers):
            self._kept[path] = _Kept(source, status, headers, body)
        return [body]


def answer_through(app: Callable, environ: dict, start_response: Callable,
                   ) -> tuple[str, list[tuple[str, str]], bytes]:
    """Let `app` answer (passing its answer on as it is) and return its status, headers and
    body, for a layer in front of the app that keeps what it can serve again itself."""
    answer: dict = {"status": "", "headers": []}

    def capture(status: str, headers: list, exc_info=None):
        answer["status"], answer["headers"] = status, headers
        return start_response(status, headers, exc_info)

    chunks = app(environ, capture)
    try:
        body = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return answer["status"], answer["headers"], body
