"""Token endpoint (RFC 6749 §3.2): authorization_code and refresh_token grants.

A DPoP proof (RFC 9449 §5) is checked before Authlib runs, so a bad proof spends
no code and no refresh token; the grants bind what they issue to its key.
"""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import g

from idp.oidc import authorization_server, bp, json_error
from idp.oidc.dpop import current_nonce, request_proof


@bp.route("/token", methods=["POST"])
def token():
    try:
        g.dpop_proof = request_proof("/token")
    except OAuth2Error as error:
        return json_error(error)
    # Authlib adds Cache-Control: no-store and Pragma: no-cache (RFC 6749 §5.1).
    response = authorization_server().create_token_response()
    if g.dpop_proof is not None:
        response.headers["DPoP-Nonce"] = current_nonce()
    return response
