"""OpenID Provider metadata (OIDC Discovery 1.0 §3, RFC 8414), built once and served from memory."""

from __future__ import annotations

import json
from functools import lru_cache

from flask import Response

from idp.interaction.levels import ACR_BY_LEVEL
from idp.oidc import bp
from idp.oidc.claims import SCOPES, SUPPORTED_CLAIMS
from idp.oidc.dpop import PROOF_ALGORITHMS
from idp.oidc.grants import CLIENT_AUTH_METHODS
from idp.oidc.private_key_jwt import ASSERTION_ALGORITHMS
from idp.oidc.request_object import REQUEST_OBJECT_ALGORITHMS
from idp.oidc.signed_tokens import ALGORITHMS
from idp.oidc.verified_claims import (
    DOCUMENTS,
    ELECTRONIC_RECORDS,
    EVIDENCE_TYPES,
    TRUST_FRAMEWORK,
    VERIFIABLE,
)
from idp.provider import provider


def provider_metadata(issuer: str, require_par: bool = False) -> dict:
    """What this provider really does; every value is checked by the tests."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "end_session_endpoint": f"{issuer}/logout",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        # RFC 9126 §5: pushed requests, required of every client when configured so.
        "pushed_authorization_request_endpoint": f"{issuer}/par",
        "require_pushed_authorization_requests": require_par,
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": ALGORITHMS,
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "dpop_signing_alg_values_supported": PROOF_ALGORITHMS,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": SUPPORTED_CLAIMS,
        "claims_parameter_supported": True,
        # RFC 9101 by value; `request_uri` only as /par issues it (nothing is fetched).
        "request_parameter_supported": True,
        "request_uri_parameter_supported": False,
        "request_object_signing_alg_values_supported": REQUEST_OBJECT_ALGORITHMS,
        "require_signed_request_object": False,
        "acr_values_supported": list(ACR_BY_LEVEL.values()),
        "prompt_values_supported": ["none", "login", "consent"],
        "ui_locales_supported": ["vi"],
        "claims_locales_supported": ["vi"],
        "authorization_response_iss_parameter_supported": True,
        # OpenID Connect for Identity Assurance 1.0 §8 (docs/identity-assurance.md).
        "verified_claims_supported": True,
        "trust_frameworks_supported": [TRUST_FRAMEWORK],
        "evidence_supported": EVIDENCE_TYPES,
        "documents_supported": sorted(set(DOCUMENTS.values())),
        "documents_check_methods_supported": ["vpip"],
        "electronic_records_supported": [kind for kind, _ in ELECTRONIC_RECORDS.values()],
        "claims_in_verified_claims_supported": list(VERIFIABLE),
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
    }


@lru_cache(maxsize=4)
def discovery_document(issuer: str, require_par: bool) -> bytes:
    """The discovery document of `issuer`, serialised once."""
    return json.dumps(provider_metadata(issuer, require_par), separators=(",", ":")).encode()


@bp.route("/.well-known/openid-configuration")
def discovery():
    return Response(
        discovery_document(provider().issuer, provider().settings.oauth.require_par),
        mimetype="application/json",
        headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"},
    )
