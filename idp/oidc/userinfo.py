"""UserInfo endpoint (OIDC Core §5.3), GET and POST, with a bearer (RFC 6750) or a
DPoP-bound (RFC 9449 §7) access token.

A DPoP-bound token (`cnf.jkt`) is accepted only under the DPoP scheme with a fresh
proof made by its key; presented as a bearer token it is refused (§7.2).
"""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import jsonify, request

from idp.oidc import bp
from idp.oidc.claims import scope_claims, user_claims
from idp.oidc.dpop import PROOF_ALGORITHMS, UseDPoPNonce, current_nonce, request_proof
from idp.oidc.issued import access_token_live
from idp.oidc.signed_tokens import InvalidToken, decode_own_token
from idp.oidc.subject import account_id_from_ref
from idp.oidc.verified_claims import verified_claims
from idp.provider import provider
from idp.store.models import Account


def _error(error: str, description: str, status: int, scheme: str = "Bearer"):
    challenge = f'{scheme} error="{error}", error_description="{description}"'
    if scheme == "DPoP":
        challenge += f', algs="{" ".join(PROOF_ALGORITHMS)}"'
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["WWW-Authenticate"] = challenge
    response.headers["Cache-Control"] = "no-store"
    return response


def _presented_token() -> tuple[str, str | None]:
    """(scheme, token) from the Authorization header, or a form-encoded bearer token."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return "Bearer", value.strip() or None
    if scheme.lower() == "dpop":
        return "DPoP", value.strip() or None
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        return "Bearer", request.form.get("access_token")
    return "Bearer", None


def _check_sender(scheme: str, token: str, claims: dict):
    """RFC 9449 §7.1: a bound token needs the DPoP scheme and a proof by its key."""
    bound = (claims.get("cnf") or {}).get("jkt")
    if bound is None:
        if scheme == "DPoP":
            return _error("invalid_token", "The access token is not DPoP-bound", 401, "DPoP")
        return None
    if scheme != "DPoP":
        return _error("invalid_token", "A DPoP-bound access token needs the DPoP scheme",
                      401, "DPoP")
    try:
        proof = request_proof("/userinfo", access_token=token,
                              client=provider().clients.find(claims.get("client_id", "")))
    except UseDPoPNonce as error:
        response = _error(error.error, error.description, 401, "DPoP")
        response.headers["DPoP-Nonce"] = current_nonce()
        return response
    except OAuth2Error as error:
        return _error(error.error, error.description, 401, "DPoP")
    if proof is None:
        return _error("invalid_dpop_proof", "Send a DPoP proof", 401, "DPoP")
    if proof.jkt != bound:
        return _error("invalid_dpop_proof", "The proof is not made with the token's key",
                      401, "DPoP")
    return None


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    scheme, token = _presented_token()
    if not token:
        response = _error("invalid_request", "Missing access token", 401, scheme)
        response.headers["WWW-Authenticate"] = scheme
        return response
    try:
        claims = decode_own_token(token, typ="at+jwt")
    except InvalidToken:
        return _error("invalid_token", "The access token is invalid or expired", 401, scheme)
    refused = _check_sender(scheme, token, claims)
    if refused is not None:
        return refused
    if not access_token_live(claims):
        return _error("invalid_token", "The access token was revoked", 401, scheme)
    if "openid" not in claims.get("scope", "").split():
        return _error("insufficient_scope", "The openid scope is required", 403, scheme)
    account_id = account_id_from_ref(claims.get("ref", ""))
    account = provider().db.session.get(Account, account_id) if account_id else None
    if account is None or account.status != "active":
        return _error("invalid_token", "The account is no longer active", 401, scheme)
    scopes = claims["scope"].split()
    requested = claims.get("uc") or {}
    body = user_claims(account, scopes, sub=claims["sub"], extra=requested.get("names", ()))
    if "verified" in requested:
        verified = verified_claims(account, requested["verified"]["names"],
                                   requested["verified"]["request"])
    elif "verified_claims" in scopes:
        verified = verified_claims(account, scope_claims(scopes))
    else:
        verified = None
    if verified:
        body["verified_claims"] = verified
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    if scheme == "DPoP":
        response.headers["DPoP-Nonce"] = current_nonce()
    return response
