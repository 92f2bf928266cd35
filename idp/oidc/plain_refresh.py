"""The plain refresh answered in front of Flask and Authlib.

Portals refresh far more often than anything else happens here, nearly always the same
way: `POST /token` with `grant_type=refresh_token`, one live refresh token, the client's
secret in HTTP Basic, no DPoP, no scope. Through Flask and Authlib such a request spends
more time in request objects, hooks and grant dispatch than in its own work (claim the
token, sign two JWTs, store the next token). This WSGI layer does that work directly,
with the grant's own functions (`idp.oidc.grants`, `idp.oidc.id_token`), in one
transaction, and answers with the headers the app gave the last plain refresh.

Only the happy path is taken here. Anything else — another grant, a body that is not
exactly the two parameters, another client authentication, DPoP, an unknown client or
token, an account or session no longer active, any exception — is rolled back untouched
and handed to the app, which answers it as it always has (errors, reuse detection, audit).
Nothing is committed before the answer is certain, so a request handed over has spent
nothing.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from flask import Flask, g

from idp.oidc.grants import (
    ROTATE_IN_ONE_STATEMENT,
    ClaimedRefreshToken,
    claim_refresh_token,
    digest,
    generate_token,
    refresh_grantee,
    store_refresh_token,
)
from idp.oidc.id_token import add_id_token
from idp.oidc.published import answer_through
from idp.ops.logs import request_id_for
from idp.ops.metrics import observe_request
from idp.params import basic_credentials

log = logging.getLogger(__name__)

# The body of a plain refresh, in either order; refresh tokens are URL-safe base64.
PLAIN_BODY = re.compile(
    rb"grant_type=refresh_token&refresh_token=([A-Za-z0-9_-]{1,200})"
    rb"|refresh_token=([A-Za-z0-9_-]{1,200})&grant_type=refresh_token"
)
FORM = "application/x-www-form-urlencoded"
ENDPOINT = "oidc.token"
# Headers that differ per answer: never kept from the app's answer.
PER_ANSWER = frozenset({"content-length", "x-request-id", "date"})


class PlainRefreshes:
    """WSGI middleware: `POST /token` plain refreshes without a trip through Flask."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self._app = app
        self._next = wsgi_app
        self._provider = app.extensions["idp.provider"]
        settings = self._provider.settings
        self._host = (urlsplit(settings.server.issuer).netloc.lower()
                      if settings.server.enforce_host else None)
        self._one_statement = self._provider.db.engine.dialect.name == "postgresql"
        self._headers: list[tuple[str, str]] | None = None
        """The app's headers of a plain refresh's 200, once one went through it."""

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/token" or environ.get("REQUEST_METHOD") != "POST":
            return self._next(environ, start_response)
        started = time.perf_counter()
        plain = self._plain_request(environ)
        if plain is None:
            return self._next(environ, start_response)
        if self._headers is None:
            return self._through_app(environ, start_response)
        body = self._refresh(*plain)
        if body is None:
            return self._next(environ, start_response)
        start_response("200 OK", [
            *self._headers, ("Content-Length", str(len(body))),
            ("X-Request-ID", request_id_for(environ.get("HTTP_X_REQUEST_ID", ""))),
        ])
        observe_request(ENDPOINT, "POST", 200, time.perf_counter() - started)
        return [body]

    def _plain_request(self, environ: dict) -> tuple[str, str, str] | None:
        """(client id, secret, refresh token) of a plain refresh, else None. The body read
        here is put back, so the app reads it as if nothing had."""
        if environ.get("QUERY_STRING") or "HTTP_DPOP" in environ:
            return None
        if self._host is not None and environ.get("HTTP_HOST", "").lower() != self._host:
            return None
        content_type = environ.get("CONTENT_TYPE", "").lower().replace(" ", "")
        if content_type not in (FORM, FORM + ";charset=utf-8"):
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            return None
        if not 0 < length <= 300:
            return None
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        match = PLAIN_BODY.fullmatch(body)
        credentials = basic_credentials(environ.get("HTTP_AUTHORIZATION"))
        if match is None or credentials is None:
            return None
        token = (match.group(1) or match.group(2)).decode("ascii")
        return credentials[0], credentials[1], token

    def _refresh(self, client_id: str, secret: str, refresh_token: str) -> bytes | None:
        """The token response's body, committed; None when the app must answer instead.

        Whatever fails here (a store down, a failover) is rolled back and answered by the
        app, which has the error handling. A commit that failed may still have happened;
        the app then finds the token rotated and answers as for any reused token, as a
        retry by the portal after the app's own failed commit would."""
        with self._app.app_context():
            g.dpop_proof = None
            session = self._provider.db.session
            try:
                client = self._provider.clients.find(client_id)
                if (client is None or client.dpop_required
                        or not client.check_endpoint_auth_method("client_secret_basic", "token")
                        or not client.check_client_secret(secret)):
                    return None
                self._provider.keys.maybe_reload()  # as the app's before_request does
                token = (self._rotate_in_one_statement(session, client, refresh_token)
                         if self._one_statement else self._rotate(client, refresh_token))
                if token is None:
                    session.rollback()
                    return None
            except Exception as error:
                if not isinstance(error, OAuth2Error):
                    log.info("plain refresh handed to the app after %s", type(error).__name__)
                # The connection may be gone; the app context's teardown discards it then.
                with contextlib.suppress(Exception):
                    session.rollback()
                return None
            # As Authlib's answer: Flask's JSON (sorted keys, ASCII).
            return self._app.json.dumps(token).encode()

    @staticmethod
    def _rotate(client, refresh_token: str) -> dict | None:
        """Claim, check, sign, store and commit, with the grant's own functions."""
        claimed = claim_refresh_token(refresh_token)
        if claimed is None or not claimed.check_client(client):
            return None
        user = refresh_grantee(claimed)
        token = generate_token("refresh_token", client, user, claimed.scope)
        add_id_token(token, user, client)
        store_refresh_token(token, user, client.client_id)
        return token

    @staticmethod
    def _rotate_in_one_statement(session, client, refresh_token: str) -> dict | None:
        """The same on PostgreSQL in one round trip before the commit: the claim, the
        successor's row and the account's subject in one statement, then the signatures."""
        successor = secrets.token_urlsafe(32)
        row = session.connection().execute(ROTATE_IN_ONE_STATEMENT, {
            "digest": digest(refresh_token), "client": client.client_id, "now": time.time(),
            "successor": digest(successor)}).first()
        if row is None:
            return None
        claimed = ClaimedRefreshToken(*row[:-1])
        user = refresh_grantee(claimed, subject=row[-1])
        token = generate_token("refresh_token", client, user, claimed.scope,
                               refresh_token=successor)
        add_id_token(token, user, client)
        session.commit()
        return token

    def _through_app(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Let the app answer a plain refresh, and keep its headers when it is a 200."""
        status, headers, body = answer_through(self._next, environ, start_response)
        if status.startswith("200") and not any(
                name.lower() == "set-cookie" for name, _ in headers):
            self._headers = [(name, value) for name, value in headers
                             if name.lower() not in PER_ANSWER]
        return [body]
