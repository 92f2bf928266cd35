"""The OpenID Connect endpoints, one module each, on one blueprint."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Flask, current_app, jsonify

bp = Blueprint("oidc", __name__)


def authorization_server():
    """The Authlib authorization server of the current app."""
    return current_app.extensions["idp.oauth"]


def json_error(error: OAuth2Error):
    """An OAuth error as RFC 6749 §5.2 JSON, with the headers the error asks for."""
    body = dict(error.get_body())
    response = jsonify(body)
    response.status_code = error.status_code or 400
    for name, value in error.get_headers():
        response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    """Build the Authlib server and register every endpoint module."""
    # The endpoint modules attach their views to `bp` when imported.
    from idp.oidc import (  # noqa: F401
        authorize,
        discovery,
        end_session,
        introspect,
        jwks,
        par,
        revoke,
        token,
        userinfo,
    )
    from idp.oidc.backchannel import backlog_gauges
    from idp.oidc.server import create_authorization_server
    from idp.ops.metrics import read_at_scrape

    create_authorization_server(app)
    app.register_blueprint(bp)
    read_at_scrape(app, backlog_gauges)
