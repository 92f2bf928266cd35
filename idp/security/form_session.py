"""Flask's signed-cookie session (it carries the CSRF token of the forms), built once.

Flask's `SecureCookieSessionInterface` builds a new itsdangerous serializer for
every request, also for the many that have no session cookie at all (token,
userinfo, discovery, JWKS); the keys never change while the app runs.
"""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class FormSessionInterface(SecureCookieSessionInterface):
    """The default signed-cookie session with its serializer built on first use.

    One instance serves one app (create_app makes a new one for each).
    """

    def __init__(self) -> None:
        self._serializer: URLSafeTimedSerializer | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if self._serializer is None:
            self._serializer = super().get_signing_serializer(app)
        return self._serializer
