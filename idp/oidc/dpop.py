"""DPoP, sender-constrained tokens (RFC 9449): proofs, provider nonces, the key binding.

A DPoP proof is a JWT the client signs, per request, with a key whose public half
rides in the proof's header. Tokens issued on a proof carry that key's thumbprint
(`cnf.jkt`, §6); presenting them again takes a fresh proof made with the same key:
a stolen token alone is worthless. Nonces (§8, §9) are stateless: an HMAC of the
current time window, so no node stores them and every node accepts them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from flask import g, request
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey, import_key

from idp.oidc import fapi2
from idp.provider import provider
from idp.store.models import Client

# Asymmetric algorithms only (§4.2: never `none`, never a MAC); the fapi2 profile narrows.
PROOF_ALGORITHMS = ["ES256", "PS256", "RS256"]
MAX_PROOF_LENGTH = 4096
PROOF_TYPE = "dpop+jwt"


class InvalidDPoPProof(OAuth2Error):
    """RFC 9449 §5, §7.1: the proof is missing where required, malformed or does not fit."""

    error = "invalid_dpop_proof"
    status_code = 400


class UseDPoPNonce(OAuth2Error):
    """RFC 9449 §8: the proof must carry the provider's current nonce (sent along)."""

    error = "use_dpop_nonce"
    status_code = 400

    def get_headers(self):
        return [*super().get_headers(), ("DPoP-Nonce", current_nonce())]


@dataclass(frozen=True)
class DPoPProof:
    """A verified proof: the thumbprint of its key (RFC 7638) is what tokens are bound to."""

    jkt: str
    alg: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@lru_cache(maxsize=4)
def _nonce_key(secret_key: str) -> bytes:
    return hashlib.sha256(b"idp dpop nonce|" + secret_key.encode()).digest()


def _nonce(window: int) -> str:
    key = _nonce_key(provider().settings.server.secret_key)
    mac = hmac.new(key, str(window).encode(), hashlib.sha256).digest()[:16]
    return f"{window:x}.{_b64(mac)}"


def _window() -> int:
    return int(time.time()) // provider().settings.oauth.dpop_nonce_ttl


def current_nonce() -> str:
    """The nonce clients must put in their next proof (the `DPoP-Nonce` header's value)."""
    return _nonce(_window())


def nonce_is_fresh(value: object) -> bool:
    """The current window's nonce or the previous one's (a client may hold it a while)."""
    if not isinstance(value, str) or len(value) > 64:
        return False
    window = _window()
    # As bytes: a str with non-ASCII characters would make compare_digest raise.
    return any(hmac.compare_digest(value.encode(), _nonce(w).encode())
               for w in (window, window - 1))


def access_token_hash(access_token: str) -> str:
    """`ath` (§4.2): base64url of the SHA-256 of the access token."""
    return _b64(hashlib.sha256(access_token.encode("ascii")).digest())


def _same_uri(htu: object, expected: str) -> bool:
    # §4.3 step 9: compare without query and fragment, after RFC 3986 §6.2.2/§6.2.3
    # normalisation (case of scheme and host, default port).
    if not isinstance(htu, str) or len(htu) > 2048:
        return False

    def normal(uri: str) -> tuple:
        parts = urlsplit(uri)
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
        return parts.scheme.lower(), (parts.hostname or "").lower(), port, parts.path or "/"

    try:
        return normal(htu) == normal(expected)
    except ValueError:
        return False


def _proof_key(header: dict, allowed: list[str]):
    if header.get("typ") != PROOF_TYPE:
        raise InvalidDPoPProof("The proof's 'typ' must be dpop+jwt.")
    if header.get("alg") not in allowed:
        raise InvalidDPoPProof(f"The proof must be signed with {', '.join(allowed)}.")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise InvalidDPoPProof("The proof's header must carry the public key ('jwk').")
    try:
        key = import_key(jwk)
    except (JoseError, ValueError, TypeError, KeyError):
        raise InvalidDPoPProof("The proof's 'jwk' is not a usable public key.") from None
    if key.is_private or not isinstance(key, RSAKey | ECKey):
        raise InvalidDPoPProof("The proof's 'jwk' must be an RSA or EC public key.")
    if isinstance(key, RSAKey) and key.raw_value.key_size < 2048:
        raise InvalidDPoPProof("RSA proof keys need 2048 bits or more.")
    return key


def verify_proof(proof: str, method: str, path: str, *, access_token: str | None = None,
                 client: Client | None = None) -> DPoPProof:
    """RFC 9449 §4.3, every step: the proof of this request, for this URL, fresh, unused."""
    if not proof or len(proof) > MAX_PROOF_LENGTH:
        raise InvalidDPoPProof("The DPoP proof is empty or too long.")
    allowed = list(fapi2.ALGORITHMS) if client is not None and client.is_fapi2 \
        else PROOF_ALGORITHMS
    try:
        unverified = jws.extract_compact(proof.encode("ascii"))
        key = _proof_key(unverified.headers(), allowed)
        verified = jws.deserialize_compact(proof, key, algorithms=allowed)
        claims = json.loads(verified.payload)
    except (JoseError, ValueError, UnicodeError):
        raise InvalidDPoPProof("The DPoP proof is not a JWT signed by its own key.") from None
    if not isinstance(claims, dict):
        raise InvalidDPoPProof("The DPoP proof's payload is not a JSON object.")
    p = provider()
    max_age = p.settings.oauth.dpop_proof_max_age
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or abs(time.time() - iat) > max_age:
        raise InvalidDPoPProof(f"The proof's 'iat' must be within {max_age} s of now.")
    if claims.get("htm") != method:
        raise InvalidDPoPProof(f"The proof's 'htm' must be {method}.")
    if not _same_uri(claims.get("htu"), p.issuer + path):
        raise InvalidDPoPProof(f"The proof's 'htu' must be {p.issuer}{path}.")
    if access_token is not None and claims.get("ath") != access_token_hash(access_token):
        raise InvalidDPoPProof("The proof's 'ath' does not match the access token.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 8 <= len(jti) <= 256:
        raise InvalidDPoPProof("The proof needs a unique 'jti'.")
    if not nonce_is_fresh(claims.get("nonce")):
        raise UseDPoPNonce("Send the provider's DPoP-Nonce in the proof.")
    jkt = key.thumbprint()
    # §11.1: a proof is accepted once; its jti is kept for as long as its iat is acceptable.
    seen = hashlib.sha256(f"{jkt}|{jti}".encode()).hexdigest()
    if not p.state.add(f"dpop-jti:{seen}", {}, 2 * max_age):
        raise InvalidDPoPProof("This DPoP proof was already used.")
    return DPoPProof(jkt=jkt, alg=verified.headers()["alg"])


def request_proof(path: str, *, access_token: str | None = None,
                  client: Client | None = None) -> DPoPProof | None:
    """The verified proof of the current request, or None when it carries no DPoP header."""
    values = request.headers.getlist("DPoP")
    if not values:
        return None
    if len(values) > 1:
        raise InvalidDPoPProof("Send exactly one DPoP header.")
    return verify_proof(values[0], request.method, path, access_token=access_token,
                        client=client)


def presented_jkt() -> str | None:
    """The key thumbprint of this token request's proof (checked by the token view)."""
    proof = g.get("dpop_proof")
    return proof.jkt if proof is not None else None


class SenderConstrainedGrant:
    """Mixin of the token grants: a client that must use DPoP (§5.2 `dpop_bound_access_tokens`,
    the `fapi2` profile) is refused without a proof, before a code or refresh token is spent."""

    def authenticate_token_endpoint_client(self):
        client = super().authenticate_token_endpoint_client()
        proof = g.get("dpop_proof")
        if client.dpop_required and proof is None:
            raise InvalidDPoPProof("This client's tokens are DPoP-bound: send a DPoP proof.")
        if proof is not None and client.is_fapi2 and proof.alg not in fapi2.ALGORITHMS:
            raise InvalidDPoPProof("FAPI 2.0 proofs are signed with ES256 or PS256.")
        return client
