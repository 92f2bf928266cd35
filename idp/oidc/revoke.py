"""Token revocation (RFC 7009) for authenticated clients, about their own tokens."""

from __future__ import annotations

import time

from authlib.oauth2.rfc7009 import RevocationEndpoint

from idp.audit import record_event
from idp.oidc import authorization_server, bp
from idp.oidc.grants import CLIENT_AUTH_METHODS, revoke_grant
from idp.oidc.issued import IssuedToken, find_token
from idp.provider import provider


class TokenRevocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return find_token(token_string, token_type_hint)

    def revoke_token(self, token: IssuedToken, request) -> None:
        if token.kind == "refresh_token":
            # Revoking a refresh token ends the grant, access tokens included (RFC 7009 §2.1).
            revoke_grant(token.grant_id, "revoked by client")
            return
        remaining = max(1, int(token.expires_at) - int(time.time()) + 60)
        provider().state.put(f"revoked-at:{token.claims['jti']}", {}, remaining)
        record_event("token.revoke", "success", client_id=token.client_id, kind=token.kind)


@bp.route("/revoke", methods=["POST"])
def revoke():
    return authorization_server().create_endpoint_response(TokenRevocation.ENDPOINT_NAME)
