"""Registering relying-party portals (`idp client ...`)."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from idp.oidc import fapi2 as fapi2_profile
from idp.oidc.claims import SCOPES
from idp.oidc.client_keys import InvalidKeySet, check_jwks_uri, check_key_set
from idp.store.models import Client
from idp.store.state import StateStore

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
SUBJECT_TYPES = ("public", "pairwise")
ID_TOKEN_ALGS = ("RS256", "ES256")
PROFILES = ("standard", "fapi2")
CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{3,64}$")


class InvalidClient(ValueError):
    """A registration value is wrong; the message names it."""


@dataclass
class ClientRegistration:
    client_id: str
    name: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    backchannel_logout_uri: str | None
    scopes: list[str]
    token_endpoint_auth_method: str = "client_secret_basic"
    subject_type: str = "public"
    id_token_alg: str | None = None
    """RS256 by default (OIDC's default); ES256 by default for `fapi2` clients."""
    session_refresh_tokens: bool = False
    secret: str | None = None
    profile: str = "standard"
    """`fapi2`: the FAPI 2.0 Security Profile (idp.oidc.fapi2 says what it requires)."""
    jwks: dict | None = None
    """Public keys by value, for private_key_jwt and signed request objects."""
    jwks_uri: str | None = None
    require_par: bool = False
    require_dpop: bool = False


def _check_uri(uri: str, what: str) -> None:
    parts = urlsplit(uri)
    loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise InvalidClient(f"{what} must be an absolute URL: {uri}")
    if parts.scheme == "http" and not loopback:
        raise InvalidClient(f"{what} must use https (http only on loopback): {uri}")
    if parts.fragment:
        raise InvalidClient(f"{what} must not have a fragment: {uri}")


def register_client(session: Session, reg: ClientRegistration) -> tuple[Client, str | None]:
    """Validate and store a client; returns it with its secret (shown once, stored hashed),
    or None for a client that authenticates with its private key."""
    if not CLIENT_ID.match(reg.client_id):
        raise InvalidClient("client id: 3-64 letters, digits, '.', '_' or '-'")
    if not reg.name.strip():
        raise InvalidClient("name must not be empty")
    if not reg.redirect_uris:
        raise InvalidClient("at least one redirect URI is required")
    for uri in reg.redirect_uris:
        _check_uri(uri, "redirect URI")
    for uri in reg.post_logout_redirect_uris:
        _check_uri(uri, "post-logout redirect URI")
    if reg.backchannel_logout_uri:
        _check_uri(reg.backchannel_logout_uri, "back-channel logout URI")
    unknown = set(reg.scopes) - set(SCOPES)
    if unknown:
        raise InvalidClient(
            f"unknown scopes: {', '.join(sorted(unknown))}; known: {', '.join(SCOPES)}"
        )
    if "openid" not in reg.scopes:
        raise InvalidClient("the scopes must include openid")
    if reg.token_endpoint_auth_method not in AUTH_METHODS:
        raise InvalidClient(f"token endpoint auth method: one of {', '.join(AUTH_METHODS)}")
    if reg.subject_type not in SUBJECT_TYPES:
        raise InvalidClient(f"subject type: one of {', '.join(SUBJECT_TYPES)}")
    if reg.profile not in PROFILES:
        raise InvalidClient(f"profile: one of {', '.join(PROFILES)}")
    fapi2 = reg.profile == "fapi2"
    id_token_alg = reg.id_token_alg or (fapi2_profile.ID_TOKEN_ALGORITHM if fapi2 else "RS256")
    if id_token_alg not in ID_TOKEN_ALGS:
        raise InvalidClient(f"ID token algorithm: one of {', '.join(ID_TOKEN_ALGS)}")
    _check_keys(reg, fapi2, id_token_alg)
    hosts = {urlsplit(uri).hostname for uri in reg.redirect_uris}
    if reg.subject_type == "pairwise" and len(hosts) != 1:
        raise InvalidClient("a pairwise client's redirect URIs must share one host (its sector)")
    if session.get(Client, reg.client_id) is not None:
        raise InvalidClient(f"a client with id {reg.client_id!r} already exists")
    secret = None
    if reg.token_endpoint_auth_method in SECRET_METHODS:
        secret = reg.secret or secrets.token_urlsafe(32)
        if len(secret) < 32:
            raise InvalidClient("client secret: at least 32 characters")
    client = Client(
        client_id=reg.client_id,
        name=reg.name.strip(),
        secret_digest=hashlib.sha256(secret.encode()).hexdigest() if secret else None,
        redirect_uris=reg.redirect_uris,
        post_logout_redirect_uris=reg.post_logout_redirect_uris,
        backchannel_logout_uri=reg.backchannel_logout_uri,
        allowed_scopes=reg.scopes,
        token_endpoint_auth_method=reg.token_endpoint_auth_method,
        subject_type=reg.subject_type,
        sector_identifier=hosts.pop() if reg.subject_type == "pairwise" else None,
        id_token_signed_response_alg=id_token_alg,
        session_refresh_tokens=reg.session_refresh_tokens,
        profile=reg.profile,
        jwks=reg.jwks,
        jwks_uri=reg.jwks_uri,
        require_par=reg.require_par,
        require_dpop=reg.require_dpop,
    )
    session.add(client)
    session.commit()
    return client, secret


def _check_keys(reg: ClientRegistration, fapi2: bool, id_token_alg: str) -> None:
    """Public keys for private_key_jwt, and what the FAPI 2.0 profile requires (§5.3.2)."""
    if reg.jwks is not None and reg.jwks_uri:
        raise InvalidClient("public keys: either a JWK set or a jwks_uri, not both")
    try:
        if reg.jwks is not None:
            check_key_set(reg.jwks, fapi2=fapi2)
        if reg.jwks_uri:
            check_jwks_uri(reg.jwks_uri)
    except InvalidKeySet as exc:
        raise InvalidClient(f"public keys: {exc}") from None
    has_keys = reg.jwks is not None or bool(reg.jwks_uri)
    if reg.token_endpoint_auth_method == "private_key_jwt":
        if reg.secret:
            raise InvalidClient("a private_key_jwt client has no secret")
        if not has_keys:
            raise InvalidClient("private_key_jwt needs the client's public keys (JWK set or "
                                "jwks_uri)")
    if fapi2:
        try:
            fapi2_profile.check_registration(reg.token_endpoint_auth_method, id_token_alg)
        except fapi2_profile.ProfileViolation as exc:
            raise InvalidClient(str(exc)) from None


def client_summary(client: Client) -> dict:
    """Everything about a client but its secret."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "scopes": client.allowed_scopes,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "subject_type": client.subject_type,
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "session_refresh_tokens": client.session_refresh_tokens,
        "profile": client.profile,
        "jwks": client.jwks,
        "jwks_uri": client.jwks_uri,
        "require_par": client.require_par,
        "require_dpop": client.require_dpop,
        "created_at": client.created_at.isoformat() if client.created_at else None,
    }


def list_clients(session: Session) -> list[Client]:
    return list(session.scalars(select(Client).order_by(Client.client_id)))


CLIENTS_STAMP = "clients-stamp"
"""State-store key rewritten (with a new random value) whenever a client is removed."""
STAMP_TTL = 10 * 365 * 86400


def announce_client_change(state: StateStore) -> None:
    """Tell every node's RegisteredClients to forget what it holds (after a removal)."""
    state.put(CLIENTS_STAMP, {"v": secrets.token_hex(8)}, STAMP_TTL)


class RegisteredClients:
    """The portals' registrations, read once per process and kept in memory.

    Every token, introspection and authorization request names its client;
    reading the row each time was one database round trip (and an ORM load)
    per request. Registrations never change in place; a removal rewrites the
    stamp in the shared state store, which each process compares at most every
    `check_seconds`: so a removed client stops working on every node within
    that time, and an added one works at once (absent ids are not cached).
    """

    def __init__(self, engine: Engine, state: StateStore, check_seconds: float = 1.0) -> None:
        self._engine = engine
        self._state = state
        self.check_seconds = check_seconds
        self._clients: dict[str, Client] = {}
        self._stamp: dict | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def find(self, client_id: str) -> Client | None:
        """The registered client, or None (also for absurd ids)."""
        if not client_id or len(client_id) > 64:
            return None
        self._check_stamp()
        client = self._clients.get(client_id)
        if client is None:
            client = self._load(client_id)
            if client is not None:
                with self._lock:
                    self._clients[client_id] = client
        return client

    def _check_stamp(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < self.check_seconds:
            return
        stamp = self._state.get(CLIENTS_STAMP)
        with self._lock:
            if stamp != self._stamp:
                self._clients = {}
                self._stamp = stamp
            self._checked_at = now

    def _load(self, client_id: str) -> Client | None:
        with Session(self._engine) as session:
            row = session.get(Client, client_id)
            if row is not None:
                # Detached from the session: a commit elsewhere must not expire it.
                session.expunge(row)
            return row
