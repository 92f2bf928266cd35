"""UserInfo endpoint (OIDC Core §5.3), GET and POST, bearer access token (RFC 6750)."""

from __future__ import annotations

from flask import jsonify, request

from idp.oidc import bp
from idp.oidc.claims import user_claims
from idp.oidc.issued import access_token_live
from idp.oidc.subject import account_id_from_ref
from idp.oidc.tokens import InvalidToken, decode_own_token
from idp.provider import provider
from idp.store.models import Account


def _bearer_error(error: str, description: str, status: int):
    challenge = f'Bearer error="{error}", error_description="{description}"'
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["WWW-Authenticate"] = challenge
    response.headers["Cache-Control"] = "no-store"
    return response


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        return request.form.get("access_token")
    return None


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    token = _bearer_token()
    if not token:
        response = _bearer_error("invalid_request", "Missing access token", 401)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    try:
        claims = decode_own_token(token, typ="at+jwt")
    except InvalidToken:
        return _bearer_error("invalid_token", "The access token is invalid or expired", 401)
    if not access_token_live(claims):
        return _bearer_error("invalid_token", "The access token was revoked", 401)
    if "openid" not in claims.get("scope", "").split():
        return _bearer_error("insufficient_scope", "The openid scope is required", 403)
    account_id = account_id_from_ref(claims.get("ref", ""))
    account = provider().db.session.get(Account, account_id) if account_id else None
    if account is None or account.status != "active":
        return _bearer_error("invalid_token", "The account is no longer active", 401)
    body = user_claims(account, claims["scope"].split(), sub=claims["sub"])
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
