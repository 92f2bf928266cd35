"""Token endpoint (RFC 6749 §3.2): authorization_code and refresh_token grants."""

from __future__ import annotations

from idp.oidc import authorization_server, bp


@bp.route("/token", methods=["POST"])
def token():
    # Authlib adds Cache-Control: no-store and Pragma: no-cache (RFC 6749 §5.1).
    return authorization_server().create_token_response()
