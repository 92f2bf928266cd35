"""Authlib grants: authorization code (with PKCE S256 and ID tokens) and refresh token.

Codes live in the short-lived state store and are taken atomically, so a
code works once; a second use revokes what the first issued (RFC 6749
§4.1.2). Refresh tokens rotate on every use; presenting a rotated one
revokes its whole family (OAuth 2.0 Security BCP §4.14). Just over 400 lines: the two
grants share their client and token checks, which Authlib calls on each.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field, fields

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from sqlalchemy import and_, bindparam, insert, or_, select, update

from idp.audit import record_event
from idp.oidc.claims_request import parse_claims_request, release, userinfo_release
from idp.oidc.dpop import SenderConstrainedGrant, presented_jkt
from idp.oidc.signed_tokens import AccessTokenGrant, issue_access_token
from idp.oidc.subject import account_ref, subject_for
from idp.provider import provider
from idp.sessions import load_session, session_handle
from idp.store.models import Account, Client, RefreshToken

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


def digest(token: str) -> str:
    """How codes and refresh tokens are stored: never in the clear."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Grantee:
    """The account a token is issued for, with how and when it authenticated."""

    account_id: int
    subject: str
    """The account's own subject (public `sub`; pairwise ones are derived from it)."""
    auth_time: int
    acr: str
    amr: list[str]
    sid: str | None
    grant_id: str
    nonce: str | None = None
    refresh_expires_at: float | None = None
    """Absolute end of a refresh-token family, carried across rotations."""
    claims: dict | None = None
    """What the `claims` parameter released beyond the scopes (idp.oidc.claims_request)."""
    login_session: str | None = None
    """The handle of the session whose login the grant came from (RefreshToken.login_session)."""

    def get_user_id(self) -> int:
        return self.account_id


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


@dataclass(frozen=True)
class ClaimedRefreshToken:
    """A refresh token just claimed (marked rotated), as the refresh grant needs it."""

    family_id: str
    client_id: str
    account_id: int
    scope: str
    sid: str | None
    auth_time: int
    acr: str
    amr: list[str]
    expires_at: float
    dpop_jkt: str | None
    claims: dict | None
    login_session: str | None

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope


# The token endpoint's statements, built once: SQLAlchemy Core with bound parameters, so
# a request only binds values (building and cache-keying a statement per request cost
# more than running it). Issuing tokens needs two columns of the account, not the object.
_accounts = Account.__table__
_refresh_tokens = RefreshToken.__table__
ACTIVE_ACCOUNT = select(_accounts.c.id, _accounts.c.subject).where(
    _accounts.c.id == bindparam("account_id"), _accounts.c.status == "active"
)
CLAIM_REFRESH_TOKEN = (
    update(_refresh_tokens)
    .where(
        _refresh_tokens.c.token_digest == bindparam("digest"),
        _refresh_tokens.c.rotated_at.is_(None),
        _refresh_tokens.c.revoked_at.is_(None),
        _refresh_tokens.c.expires_at > bindparam("now"),
        # RFC 9449 §5: a DPoP-bound token refreshes only with a proof made with its key.
        or_(_refresh_tokens.c.dpop_jkt.is_(None),
            _refresh_tokens.c.dpop_jkt == bindparam("jkt")),
    )
    .values(rotated_at=bindparam("now"))
    .returning(*(_refresh_tokens.c[f.name] for f in fields(ClaimedRefreshToken)))
)
INSERT_REFRESH_TOKEN = insert(_refresh_tokens)


def _rotation_in_one_statement():
    """PostgreSQL: claim a bearer refresh token of a client, store its successor and read the
    account's subject in one round trip (data-modifying CTEs), for the plain refresh. No row
    when the token is not live or its account not active; the caller then rolls back (the
    claim included) and lets the grant answer."""
    t, a = _refresh_tokens, _accounts
    claimed = (
        update(t)
        .where(t.c.token_digest == bindparam("digest"), t.c.client_id == bindparam("client"),
               t.c.rotated_at.is_(None), t.c.revoked_at.is_(None),
               t.c.expires_at > bindparam("now"), t.c.dpop_jkt.is_(None))
        .values(rotated_at=bindparam("now"))
        .returning(*(t.c[f.name] for f in fields(ClaimedRefreshToken)))
        .cte("claimed")
    )
    copied = ("family_id", "client_id", "account_id", "scope", "sid", "auth_time", "acr",
              "amr", "expires_at", "claims", "login_session")
    successor = (
        insert(t)
        .from_select(
            ["token_digest", "issued_at", *copied],
            select(bindparam("successor"), bindparam("now"), *(claimed.c[c] for c in copied))
            .join(a, and_(a.c.id == claimed.c.account_id, a.c.status == "active")),
        )
        .returning(*(t.c[f.name] for f in fields(ClaimedRefreshToken)))
        .cte("successor")
    )
    return select(successor, a.c.subject).join(a, a.c.id == successor.c.account_id)


ROTATE_IN_ONE_STATEMENT = _rotation_in_one_statement()


def active_account(account_id: int):
    """The (id, subject) row of the account if it is active, else None."""
    connection = provider().db.session.connection()
    return connection.execute(ACTIVE_ACCOUNT, {"account_id": account_id}).first()


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


def code_key(code: str) -> str:
    """The state-store key of an authorization code (its digest: never the code itself)."""
    return f"code:{digest(code)}"


def code_record(
    client_id: str,
    redirect_uri: str,
    scope: str,
    nonce: str | None,
    code_challenge: str,
    user: Grantee,
    dpop_jkt: str | None = None,
    claims: dict | None = None,
) -> dict:
    """What an authorization code stands for, as the state store keeps it until redeemed."""
    return {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "nonce": nonce,
        "code_challenge": code_challenge,
        "account_id": user.account_id,
        "auth_time": user.auth_time,
        "acr": user.acr,
        "amr": user.amr,
        "sid": user.sid,
        "gid": user.grant_id,
        "dpop_jkt": dpop_jkt,
        "claims": claims,
    }


class AuthorizationCodeGrant(SenderConstrainedGrant, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def save_authorization_code(self, code: str, request) -> None:
        data = request.payload.data
        record = code_record(
            request.client.client_id,
            request.payload.redirect_uri,
            request.scope,
            data.get("nonce"),
            data.get("code_challenge"),
            request.user,
            # RFC 9449 §10: the code is bound to the key the portal named (or proved at /par).
            data.get("dpop_jkt"),
            release(parse_claims_request(data.get("claims")), request.client),
        )
        p = provider()
        p.state.put(code_key(code), record, p.settings.tokens.code_ttl)

    def query_authorization_code(self, code: str, client: Client) -> StoredCode | None:
        p = provider()
        key = digest(code)
        record = p.state.take(code_key(code))
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
        if record.get("dpop_jkt") and record["dpop_jkt"] != presented_jkt():
            # Spent like a replayed code: whoever holds it without the key cannot retry.
            raise InvalidGrantError("The code is bound to another DPoP key.")
        return StoredCode(record)

    def delete_authorization_code(self, authorization_code: StoredCode) -> None:
        """Nothing to do: the code was taken (deleted) when it was read."""

    def authenticate_user(self, authorization_code: StoredCode) -> Grantee | None:
        record = authorization_code.record
        account = active_account(record["account_id"])
        if account is None:
            return None
        return Grantee(
            account_id=account.id,
            subject=account.subject,
            auth_time=record["auth_time"],
            acr=record["acr"],
            amr=record["amr"],
            sid=record["sid"],
            grant_id=record["gid"],
            nonce=record.get("nonce"),
            claims=record.get("claims"),
            login_session=session_handle(record["sid"]) if record["sid"] else None,
        )


def claim_refresh_token(refresh_token: str) -> ClaimedRefreshToken | None:
    """Mark a live refresh token rotated, in the request's transaction, and return what it
    stands for; None when it is not live (unknown, rotated, revoked, expired, other key)."""
    if not refresh_token or len(refresh_token) > 200:
        return None
    # Claim the token in one statement: of two concurrent uses only one wins. A Core
    # UPDATE … RETURNING on the table, in the session's transaction: the ORM-enabled
    # bulk update would also run its session-synchronisation step, which costs more
    # than the statement itself.
    row = provider().db.session.connection().execute(
        CLAIM_REFRESH_TOKEN, {"digest": digest(refresh_token), "now": time.time(),
                              "jkt": presented_jkt()}
    ).first()
    return ClaimedRefreshToken(*row) if row is not None else None


def refresh_grantee(refresh_token: ClaimedRefreshToken, subject: str | None = None) -> Grantee:
    """Who a claimed refresh token is issued for; invalid_grant when its account is no longer
    active or the SSO session it was bound to has ended. `subject`: the account's, read by
    a caller that has already found the account active."""
    if subject is None:
        account = active_account(refresh_token.account_id)
        # Authlib answers a None user with invalid_request; RFC 6749 §5.2 says invalid_grant.
        if account is None:
            raise InvalidGrantError("The account of this refresh token is not active.")
        subject = account.subject
    if refresh_token.sid and load_session(refresh_token.sid) is None:
        # A session-bound token ends with its SSO session.
        raise InvalidGrantError("The session of this refresh token has ended.")
    return Grantee(
        account_id=refresh_token.account_id,
        subject=subject,
        auth_time=refresh_token.auth_time,
        acr=refresh_token.acr,
        amr=refresh_token.amr,
        sid=refresh_token.sid,
        grant_id=refresh_token.family_id,
        refresh_expires_at=refresh_token.expires_at,
        claims=refresh_token.claims,
        login_session=refresh_token.login_session,
    )


class RefreshTokenGrant(SenderConstrainedGrant, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> ClaimedRefreshToken | None:
        claimed = claim_refresh_token(refresh_token)
        if claimed is not None:
            return claimed
        session = provider().db.session
        session.rollback()
        if not refresh_token or len(refresh_token) > 200:
            return None
        token_digest = digest(refresh_token)
        stale = session.scalar(
            select(RefreshToken).where(RefreshToken.token_digest == token_digest)
        )
        if stale is not None and stale.dpop_jkt and stale.rotated_at is None \
                and stale.revoked_at is None:
            # Nothing was claimed: the rightful holder can still use it with its key.
            raise InvalidGrantError("The refresh token is bound to another DPoP key.")
        if stale is not None and stale.rotated_at is not None and stale.revoked_at is None:
            revoke_grant(stale.family_id, "refresh token reused")
            record_event(
                "token.refresh_reuse",
                "refused",
                account_id=stale.account_id,
                client_id=stale.client_id,
            )
        return None

    def authenticate_user(self, refresh_token: ClaimedRefreshToken) -> Grantee:
        return refresh_grantee(refresh_token)

    def revoke_old_credential(self, refresh_token: ClaimedRefreshToken) -> None:
        """Nothing to do: the old token was marked rotated when it was claimed."""


def wants_refresh_token(client: Client, scope: str, grant_type: str) -> bool:
    """offline_access (OIDC Core §11) or the client's session-bound refresh policy."""
    if grant_type == "refresh_token":
        return True
    return "offline_access" in scope.split() or client.session_refresh_tokens


def generate_token(
    grant_type, client, user=None, scope=None, expires_in=None, include_refresh_token=True,
    refresh_token: str | None = None,
) -> dict:
    """Authlib token generator: an RFC 9068 access token and, by policy, a refresh token
    (`refresh_token` when the caller has already stored it, else a new one)."""
    scope = scope or ""
    access_token, ttl = issue_access_token(
        AccessTokenGrant(
            sub=subject_for(user.subject, client),
            client_id=client.client_id,
            scope=scope,
            auth_time=user.auth_time,
            acr=user.acr,
            amr=user.amr,
            sid=user.sid,
            grant_id=user.grant_id,
            account_ref=account_ref(user.account_id),
            jkt=presented_jkt(),
            userinfo_claims=userinfo_release(user.claims),
        )
    )
    token = {
        # RFC 9449 §5: a bound token says so, and the portal must present it as DPoP.
        "token_type": "DPoP" if presented_jkt() else "Bearer",
        "access_token": access_token,
        "expires_in": ttl,
        "scope": scope,
    }
    if wants_refresh_token(client, scope, grant_type):
        token["refresh_token"] = refresh_token or secrets.token_urlsafe(32)
    return token


def save_token(token: dict, request) -> None:
    """Authlib's hook: store the refresh token of a response and commit."""
    store_refresh_token(token, request.user, request.client.client_id)


def store_refresh_token(token: dict, user: Grantee, client_id: str) -> None:
    """Store the refresh token (as a digest) in the family of its grant, and commit the
    request's transaction (with the claim of the token it replaces)."""
    refresh = token.get("refresh_token")
    p = provider()
    session = p.db.session
    if not refresh:
        session.commit()
        return
    now = time.time()
    offline = "offline_access" in token["scope"].split()
    expires = user.refresh_expires_at or now + p.settings.tokens.refresh_token_ttl
    # A Core INSERT in the transaction that claimed the old token: no ORM unit of work
    # (flush, identity map) for a row nothing reads back in this request.
    session.connection().execute(
        INSERT_REFRESH_TOKEN,
        {
            "token_digest": digest(refresh),
            "family_id": user.grant_id,
            "client_id": client_id,
            "account_id": user.account_id,
            "scope": token["scope"],
            "sid": None if offline else user.sid,
            "auth_time": user.auth_time,
            "acr": user.acr,
            "amr": user.amr,
            "issued_at": now,
            "expires_at": expires,
            "rotated_at": None,
            "revoked_at": None,
            "dpop_jkt": presented_jkt(),
            "claims": user.claims,
            "login_session": user.login_session,
        },
    )
    session.commit()
