"""Authlib grants: authorization code (with PKCE S256 and ID tokens) and refresh token.

Codes live in the short-lived state store and are taken atomically, so a
code works once; a second use revokes what the first issued (RFC 6749
§4.1.2). Refresh tokens rotate on every use; presenting a rotated one
revokes its whole family (OAuth 2.0 Security BCP §4.14).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import g
from sqlalchemy import select, update

from idp.audit import record_event
from idp.oidc.subject import account_ref, subject_for
from idp.oidc.tokens import AccessTokenGrant, at_hash, issue_access_token, issue_id_token
from idp.provider import provider
from idp.sessions import load_session
from idp.store.models import Account, Client, RefreshToken

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def digest(token: str) -> str:
    """How codes and refresh tokens are stored: never in the clear."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Grantee:
    """The account a token is issued for, with how and when it authenticated."""

    account: Account
    auth_time: int
    acr: str
    amr: list[str]
    sid: str | None
    grant_id: str
    nonce: str | None = None
    refresh_expires_at: float | None = None
    """Absolute end of a refresh-token family, carried across rotations."""

    def get_user_id(self) -> int:
        return self.account.id


@dataclass
class StoredCode:
    """An authorization code record taken from the state store."""

    record: dict = field(default_factory=dict)

    def get_redirect_uri(self) -> str:
        return self.record["redirect_uri"]

    def get_scope(self) -> str:
        return self.record["scope"]

    def get_nonce(self) -> str | None:
        return self.record.get("nonce")


def revoke_grant(grant_id: str, reason: str) -> None:
    """Revoke every token of one grant: its refresh family and its live access tokens."""
    p = provider()
    session = p.db.session
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == grant_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=time.time())
    )
    session.commit()
    p.state.put(
        f"revoked-grant:{grant_id}", {"reason": reason}, p.settings.tokens.access_token_ttl + 60
    )
    record_event("token.revoke_grant", "success", grant=grant_id, reason=reason)


class PkceS256(CodeChallenge):
    """PKCE with S256, required for every client (DESIGN §7), not only public ones."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        return super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result):
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        return super().validate_code_verifier(grant, result)

    def get_authorization_code_challenge(self, authorization_code: StoredCode) -> str:
        return authorization_code.record["code_challenge"]

    def get_authorization_code_challenge_method(self, authorization_code: StoredCode) -> str:
        return "S256"


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def save_authorization_code(self, code: str, request) -> None:
        user: Grantee = request.user
        data = request.payload.data
        p = provider()
        record = {
            "client_id": request.client.client_id,
            "redirect_uri": request.payload.redirect_uri,
            "scope": request.scope,
            "nonce": data.get("nonce"),
            "code_challenge": data.get("code_challenge"),
            "account_id": user.account.id,
            "auth_time": user.auth_time,
            "acr": user.acr,
            "amr": user.amr,
            "sid": user.sid,
            "gid": user.grant_id,
        }
        p.state.put(f"code:{digest(code)}", record, p.settings.tokens.code_ttl)

    def query_authorization_code(self, code: str, client: Client) -> StoredCode | None:
        p = provider()
        key = digest(code)
        record = p.state.take(f"code:{key}")
        if record is None:
            used = p.state.get(f"code-used:{key}")
            if used is not None:
                revoke_grant(used["gid"], "authorization code reused")
                record_event("token.code_reuse", "refused", client_id=client.client_id)
            return None
        p.state.put(
            f"code-used:{key}", {"gid": record["gid"]}, p.settings.tokens.access_token_ttl + 60
        )
        if record["client_id"] != client.client_id:
            return None
        return StoredCode(record)

    def delete_authorization_code(self, authorization_code: StoredCode) -> None:
        """Nothing to do: the code was taken (deleted) when it was read."""

    def authenticate_user(self, authorization_code: StoredCode) -> Grantee | None:
        record = authorization_code.record
        account = provider().db.session.get(Account, record["account_id"])
        if account is None or account.status != "active":
            return None
        return Grantee(
            account=account,
            auth_time=record["auth_time"],
            acr=record["acr"],
            amr=record["amr"],
            sid=record["sid"],
            grant_id=record["gid"],
            nonce=record.get("nonce"),
        )


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        if not refresh_token or len(refresh_token) > 200:
            return None
        session = provider().db.session
        now = time.time()
        token_digest = digest(refresh_token)
        # Claim the token in one statement: of two concurrent uses only one wins. A Core
        # UPDATE … RETURNING on the table, in the session's transaction: the ORM-enabled
        # bulk update would also run its session-synchronisation step, which costs more
        # than the statement itself. The row comes back as a detached RefreshToken.
        table = RefreshToken.__table__
        row = session.connection().execute(
            update(table)
            .where(
                table.c.token_digest == token_digest,
                table.c.rotated_at.is_(None),
                table.c.revoked_at.is_(None),
                table.c.expires_at > now,
            )
            .values(rotated_at=now)
            .returning(*table.c)
        ).first()
        if row is not None:
            return RefreshToken(**row._mapping)
        session.rollback()
        stale = session.scalar(
            select(RefreshToken).where(RefreshToken.token_digest == token_digest)
        )
        if stale is not None and stale.rotated_at is not None and stale.revoked_at is None:
            revoke_grant(stale.family_id, "refresh token reused")
            record_event(
                "token.refresh_reuse",
                "refused",
                account_id=stale.account_id,
                client_id=stale.client_id,
            )
        return None

    def authenticate_user(self, refresh_token: RefreshToken) -> Grantee | None:
        p = provider()
        account = p.db.session.get(Account, refresh_token.account_id)
        # Authlib answers a None here with invalid_request; RFC 6749 §5.2 says invalid_grant.
        if account is None or account.status != "active":
            raise InvalidGrantError("The account of this refresh token is not active.")
        if refresh_token.sid and load_session(refresh_token.sid) is None:
            # A session-bound token ends with its SSO session.
            raise InvalidGrantError("The session of this refresh token has ended.")
        return Grantee(
            account=account,
            auth_time=refresh_token.auth_time,
            acr=refresh_token.acr,
            amr=refresh_token.amr,
            sid=refresh_token.sid,
            grant_id=refresh_token.family_id,
            refresh_expires_at=refresh_token.expires_at,
        )

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        """Nothing to do: the old token was marked rotated when it was claimed."""


def wants_refresh_token(client: Client, scope: str, grant_type: str) -> bool:
    """offline_access (OIDC Core §11) or the client's session-bound refresh policy."""
    if grant_type == "refresh_token":
        return True
    return "offline_access" in scope.split() or client.session_refresh_tokens


def generate_token(
    grant_type, client, user=None, scope=None, expires_in=None, include_refresh_token=True
) -> dict:
    """Authlib token generator: an RFC 9068 access token and, by policy, a refresh token."""
    scope = scope or ""
    access_token, ttl = issue_access_token(
        AccessTokenGrant(
            sub=subject_for(user.account, client),
            client_id=client.client_id,
            scope=scope,
            auth_time=user.auth_time,
            acr=user.acr,
            amr=user.amr,
            sid=user.sid,
            grant_id=user.grant_id,
            account_ref=account_ref(user.account.id),
        )
    )
    token = {
        "token_type": "Bearer",
        "access_token": access_token,
        "expires_in": ttl,
        "scope": scope,
    }
    if wants_refresh_token(client, scope, grant_type):
        token["refresh_token"] = secrets.token_urlsafe(32)
    return token


def save_token(token: dict, request) -> None:
    """Store the refresh token (as a digest) in the family of its grant."""
    refresh = token.get("refresh_token")
    if not refresh:
        provider().db.session.commit()
        return
    p = provider()
    user: Grantee = request.user
    now = time.time()
    offline = "offline_access" in token["scope"].split()
    expires = user.refresh_expires_at or now + p.settings.tokens.refresh_token_ttl
    p.db.session.add(
        RefreshToken(
            token_digest=digest(refresh),
            family_id=user.grant_id,
            client_id=request.client.client_id,
            account_id=user.account.id,
            scope=token["scope"],
            sid=None if offline else user.sid,
            auth_time=user.auth_time,
            acr=user.acr,
            amr=user.amr,
            issued_at=now,
            expires_at=expires,
        )
    )
    p.db.session.commit()
    g.issued_refresh = True


class IdTokenExtension:
    """Adds the ID token to token responses whose scope includes `openid`."""

    def __call__(self, grant) -> None:
        grant.register_hook("after_create_token_response", self.add_id_token)

    def add_id_token(self, grant, response) -> None:
        _status, token, _headers = response
        if "openid" not in token.get("scope", "").split():
            return
        user: Grantee = grant.request.user
        client: Client = grant.request.client
        alg = client.id_token_signed_response_alg
        claims = {
            "sub": subject_for(user.account, client),
            "aud": client.client_id,
            "auth_time": user.auth_time,
            "acr": user.acr,
            "amr": user.amr,
            "at_hash": at_hash(token["access_token"], alg),
        }
        if user.sid:
            claims["sid"] = user.sid
        if user.nonce:
            claims["nonce"] = user.nonce
        token["id_token"] = issue_id_token(claims, alg)
