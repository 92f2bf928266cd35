"""Token introspection (RFC 7662) for authenticated clients, about their own tokens.

A DPoP-bound token is reported with its key (`cnf.jkt`, `token_type: DPoP`, RFC 9449
§6.2), so a resource server can check proofs itself; a DPoP proof sent to this
endpoint is checked like at the token endpoint.
"""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from idp.oidc import authorization_server, bp, json_error
from idp.oidc.dpop import current_nonce, request_proof
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
        jkt = token.row.dpop_jkt if token.row is not None else \
            (token.claims.get("cnf") or {}).get("jkt")
        body = {
            "active": True,
            "client_id": token.client_id,
            "token_type": ("DPoP" if jkt else "Bearer") if token.kind == "access_token"
            else "refresh_token",
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
        if jkt:
            body["cnf"] = {"jkt": jkt}
        return body


@bp.route("/introspect", methods=["POST"])
def introspect():
    try:
        proof = request_proof("/introspect")
    except OAuth2Error as error:
        return json_error(error)
    response = authorization_server().create_endpoint_response(TokenIntrospection.ENDPOINT_NAME)
    if proof is not None:
        response.headers["DPoP-Nonce"] = current_nonce()
    return response
