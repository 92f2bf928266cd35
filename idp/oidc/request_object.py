"""Signed request objects (JAR, RFC 9101), by value at /authorize and /par.

Authlib's JWTAuthenticationRequest verifies the object against the client's keys
and checks what RFC 9101 §6.3 asks (client_id matches, no nested request); this
module adds the alg policy (never `none`: the object must be signed by a key the
portal registered), the audience and issuer of OIDC Core §6.1, and turns the
verified claims back into plain authorization parameters. `request_uri` is not
fetched from the web: the only `request_uri` this provider accepts is one /par
issued (idp.oidc.par).
"""

from __future__ import annotations

import json

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc9101 import JWTAuthenticationRequest
from authlib.oauth2.rfc9101.errors import InvalidRequestObjectError
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from idp.oidc import authorization_server, fapi2
from idp.provider import provider
from idp.store.models import Client

REQUEST_OBJECT_ALGORITHMS = ["PS256", "ES256", "RS256"]
MAX_REQUEST_OBJECT_LENGTH = 16 * 1024
# Claims of the JWT itself, not authorization parameters.
JWT_CLAIMS = {"iss", "aud", "exp", "nbf", "iat", "jti"}


def signing_algorithms(client: Client) -> list[str]:
    return list(fapi2.ALGORITHMS) if client.is_fapi2 else REQUEST_OBJECT_ALGORITHMS


class SignedRequestObject(JWTAuthenticationRequest):
    """Authlib's JAR extension, configured for request objects by value only."""

    def __init__(self) -> None:
        super().__init__(support_request=True, support_request_uri=False)

    @property
    def claims_validator(self) -> JWTClaimsRegistry:
        # OIDC Core §6.1 and FAPI 2.0 Message Signing §5.3.1: addressed to this provider,
        # issued by the client, and short-lived.
        return JWTClaimsRegistry(
            leeway=30,
            client_id={"essential": True},
            iss={"essential": True},
            aud={"essential": True, "value": provider().issuer},
            exp={"essential": True},
        )

    def resolve_client_public_key(self, client: Client):
        return provider().client_keys.resolver(client)

    def get_request_object_signing_algorithms(self, client: Client) -> list[str]:
        return signing_algorithms(client)

    def get_server_metadata(self) -> dict:
        return {"request_object_signing_alg_values_supported": REQUEST_OBJECT_ALGORITHMS}

    def get_client_require_signed_request_object(self, client: Client) -> bool:
        return False


_EXTENSION = SignedRequestObject()


def _parameter(value) -> str:
    # Authorization parameters are strings; JSON members such as `claims` or `max_age`
    # arrive typed inside a request object.
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def decode_request_object(params: dict[str, str], client: Client) -> dict[str, str]:
    """The authorization parameters inside the signed `request` of `params` (RFC 9101 §5)."""
    raw = params.get("request") or ""
    if len(raw) > MAX_REQUEST_OBJECT_LENGTH:
        raise InvalidRequestObjectError("The request object is too long.")
    try:
        alg = jws.extract_compact(raw.encode("ascii")).headers().get("alg")
    except (JoseError, ValueError, UnicodeError):
        raise InvalidRequestObjectError("The request object is not a compact JWS.") from None
    allowed = signing_algorithms(client)
    if alg not in allowed:
        # Checked here so that `none` gets invalid_request_object, not a generic error.
        raise InvalidRequestObjectError(
            f"Request objects must be signed with {', '.join(allowed)}.")
    oauth_request = OAuth2Request("POST", provider().issuer + "/authorize")
    oauth_request.payload = BasicOAuth2Payload(params)
    _EXTENSION.parse_authorization_request(authorization_server(), oauth_request)
    claims = oauth_request.payload.data
    if claims.get("iss") != client.client_id:
        raise InvalidRequestObjectError("The request object's 'iss' must be the client_id.")
    return {name: _parameter(value) for name, value in claims.items()
            if name not in JWT_CLAIMS and value is not None}
