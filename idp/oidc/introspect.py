"""Token introspection (RFC 7662) for authenticated clients, about their own tokens."""

from __future__ import annotations

from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from idp.oidc import authorization_server, bp
from idp.oidc.grants import CLIENT_AUTH_METHODS
from idp.oidc.issued import IssuedToken, find_token, token_account
from idp.oidc.subject import subject_for
from idp.provider import provider


class TokenIntrospection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return find_token(token_string, token_type_hint)

    def check_permission(self, token: IssuedToken, client, request) -> bool:
        # A portal may only learn about tokens issued to itself.
        return token.check_client(client)

    def introspect_token(self, token: IssuedToken) -> dict:
        body = {
            "active": True,
            "client_id": token.client_id,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            "scope": token.scope,
            "exp": int(token.expires_at),
            "iat": int(token.issued_at),
            "iss": provider().issuer,
        }
        if token.claims is not None:
            for name in ("sub", "aud", "jti", "acr", "amr", "auth_time", "sid"):
                if name in token.claims:
                    body[name] = token.claims[name]
        else:
            account = token_account(token)
            client = provider().clients.find(token.client_id)
            if account is None or client is None:
                return {"active": False}
            body["sub"] = subject_for(account.subject, client)
            body["acr"] = token.row.acr
            body["auth_time"] = token.row.auth_time
        return body


@bp.route("/introspect", methods=["POST"])
def introspect():
    return authorization_server().create_endpoint_response(TokenIntrospection.ENDPOINT_NAME)
