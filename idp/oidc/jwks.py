"""The published signing keys (RFC 7517), served from memory."""

from __future__ import annotations

from flask import Response

from idp.oidc import bp
from idp.provider import provider


@bp.route("/jwks")
def jwks():
    # Short cache: portals must see a pre-published key well before it signs.
    return Response(
        provider().keys.jwks_json(),
        mimetype="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )
