"""`private_key_jwt` client authentication (RFC 7523 §2.2, OIDC Core §9).

Authlib's JWTBearerClientAssertion reads and verifies the assertion; this adds what
it leaves to the server: the client's keys (idp.oidc.client_keys), the algorithms
accepted, the audience FAPI 2.0 requires and a `jti` that works once.
"""

from __future__ import annotations

import hashlib
import time

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc.errors import UnsupportedAlgorithmError

from idp.oidc import fapi2
from idp.provider import provider
from idp.store.models import Client

# RFC 7518 asymmetric algorithms for client keys; the fapi2 profile narrows them to two.
ASSERTION_ALGORITHMS = ("PS256", "ES256", "RS256")
LEEWAY = 30


class PrivateKeyJwt(JWTBearerClientAssertion):
    """Client authentication by a JWT the client signs with its registered private key."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self) -> None:
        super().__init__(validate_jti=True, leeway=LEEWAY)

    def get_audiences(self) -> list[str]:
        return [provider().issuer]

    def resolve_client_public_key(self, client: Client):
        resolve = provider().client_keys.resolver(client)
        allowed = fapi2.ALGORITHMS if client.is_fapi2 else ASSERTION_ALGORITHMS

        def key_for(obj):
            if obj.headers().get("alg") not in allowed:
                raise UnsupportedAlgorithmError(
                    f"client assertions are signed with {', '.join(allowed)}")
            return resolve(obj)

        return key_for

    def verify_claims(self, claims) -> None:
        # FAPI 2.0 §5.3.2.1 (after the 2025 audience-injection disclosure): the issuer
        # identifier alone, as a string; never the token endpoint, never an array.
        if claims.get("aud") != provider().issuer:
            raise InvalidClientError(
                description="The assertion's 'aud' must be the issuer identifier, as a string.")
        exp = claims.get("exp")
        lifetime = provider().settings.oauth.client_assertion_max_lifetime
        if isinstance(exp, int | float) and exp > time.time() + lifetime:
            raise InvalidClientError(
                description=f"The assertion must expire within {lifetime} seconds.")
        super().verify_claims(claims)

    def validate_jti(self, claims, jti) -> bool:
        """RFC 7523 §3 item 7: a `jti` is accepted once for as long as its assertion lives."""
        if not isinstance(jti, str) or not 8 <= len(jti) <= 256:
            return False
        p = provider()
        remaining = max(1.0, float(claims["exp"]) - time.time() + LEEWAY)
        key = f"assertion-jti:{claims['sub']}:{hashlib.sha256(jti.encode()).hexdigest()}"
        return p.state.add(key, {}, remaining)
