"""The Authlib authorization server of this provider, with its grants and endpoints."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import (
    FlaskJsonRequest,
    FlaskOAuth2Payload,
    FlaskOAuth2Request,
)
from authlib.oauth2.rfc6749.requests import OAuth2Request
from flask import Flask, request

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
from idp.params import basic_credentials
from idp.provider import provider
from idp.store.models import Client


def query_client(client_id: str) -> Client | None:
    """The registered client, or None (also for absurd ids)."""
    return provider().clients.find(client_id)


def authenticate_client_secret_basic(query_client, oauth_request) -> Client | None:
    """`client_secret_basic` with the credentials decoded as RFC 6749 §2.3.1 says; a header
    that is not valid base64 of UTF-8 `id:secret` authenticates nobody (invalid_client)."""
    credentials = basic_credentials(oauth_request.headers.get("Authorization"))
    if credentials is None:
        return None
    client = query_client(credentials[0])
    if client is not None and client.check_client_secret(credentials[1]):
        return client
    return None


def request_uri() -> str:
    """This request's URL on the issuer's origin: never built from Host or X-Forwarded-Host."""
    return provider().origin + request.full_path.rstrip("?")


class OriginRequest(FlaskOAuth2Request):
    """Authlib's view of this request, at the issuer's origin instead of request.url."""

    def __init__(self, flask_request) -> None:
        OAuth2Request.__init__(self, method=flask_request.method, uri=request_uri(),
                               headers=flask_request.headers)
        self._request = flask_request
        self.payload = FlaskOAuth2Payload(flask_request)


class ProviderAuthorizationServer(AuthorizationServer):
    """Authlib's server, seeing every request at the configured origin."""

    def create_oauth2_request(self, _request):
        return OriginRequest(request)

    def create_json_request(self, _request):
        json_request = FlaskJsonRequest(request)
        json_request.uri = request_uri()
        return json_request


def create_authorization_server(app: Flask) -> AuthorizationServer:
    """Build the server and register code + refresh grants and the RFC endpoints."""
    server = ProviderAuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_client_auth_method("client_secret_basic", authenticate_client_secret_basic)
    server.register_token_generator("default", generate_token)
    server.register_client_auth_method(PrivateKeyJwt.CLIENT_AUTH_METHOD, PrivateKeyJwt())
    server.register_grant(AuthorizationCodeGrant, [PkceS256(required=True), IdTokenExtension()])
    server.register_grant(RefreshTokenGrant, [IdTokenExtension()])
    server.register_endpoint(TokenIntrospection)
    server.register_endpoint(TokenRevocation)
    server.register_endpoint(EndSession)
    app.extensions["idp.oauth"] = server
    return server
