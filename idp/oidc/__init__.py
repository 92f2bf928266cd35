"""The OpenID Connect endpoints, one module each, on one blueprint."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app

bp = Blueprint("oidc", __name__)


def authorization_server():
    """The Authlib authorization server of the current app."""
    return current_app.extensions["idp.oauth"]


def init_app(app: Flask) -> None:
    """Build the Authlib server and register every endpoint module."""
    # The endpoint modules attach their views to `bp` when imported.
    from idp.oidc import (  # noqa: F401
        authorize,
        discovery,
        end_session,
        introspect,
        jwks,
        revoke,
        token,
        userinfo,
    )
    from idp.oidc.server import create_authorization_server

    create_authorization_server(app)
    app.register_blueprint(bp)
