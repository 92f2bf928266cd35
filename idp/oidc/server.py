"""The Authlib authorization server of this provider, with its grants and endpoints."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer
from flask import Flask

from idp.oidc.end_session import EndSession
from idp.oidc.grants import (
    AuthorizationCodeGrant,
    PkceS256,
    RefreshTokenGrant,
    generate_token,
    save_token,
)
from idp.oidc.id_token import IdTokenExtension
from idp.oidc.introspect import TokenIntrospection
from idp.oidc.private_key_jwt import PrivateKeyJwt
from idp.oidc.revoke import TokenRevocation
from idp.provider import provider
from idp.store.models import Client


def query_client(client_id: str) -> Client | None:
    """The registered client, or None (also for absurd ids)."""
    return provider().clients.find(client_id)


def create_authorization_server(app: Flask) -> AuthorizationServer:
    """Build the server and register code + refresh grants and the RFC endpoints."""
    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_token_generator("default", generate_token)
    server.register_client_auth_method(PrivateKeyJwt.CLIENT_AUTH_METHOD, PrivateKeyJwt())
    server.register_grant(AuthorizationCodeGrant, [PkceS256(required=True), IdTokenExtension()])
    server.register_grant(RefreshTokenGrant, [IdTokenExtension()])
    server.register_endpoint(TokenIntrospection)
    server.register_endpoint(TokenRevocation)
    server.register_endpoint(EndSession)
    app.extensions["idp.oauth"] = server
    return server
