"""Relying-party demo portal for the identity provider.

One small Flask app, started twice by the demo: once as the National Public Service Portal
(``--kind national``) and once as the Residence Management portal (``--kind residence``).
It signs people in through the IdP with Authlib's OpenID Connect client (authorization code
flow, PKCE S256, state, nonce, client_secret_basic, ID token checked against the IdP's JWKS),
shows every claim it received, pre-fills a declaration form from them ("declare once"), and
supports RP-initiated logout and OpenID Connect Back-Channel Logout 1.0.

Run ``python examples/portal.py --help`` for the flags. Its page is
``examples/templates/portal.html``. Over 400 lines on purpose: a portal's developer reads a
whole relying party, back-channel logout included, in one file.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Flask, Response, jsonify, redirect, render_template, request, session
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

PortalKind = Literal["national", "residence"]

SCOPE = "openid profile phone email cccd"
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# Asymmetric algorithms only: "none" and HMAC (which would accept the public key as a shared
# secret) must never verify a logout token.
LOGOUT_TOKEN_ALGORITHMS = ["RS256", "ES256"]
# "typ" values accepted on a logout token; explicit typing (logout+jwt) is what the spec
# recommends, an untyped or generic JWT is tolerated.
LOGOUT_TOKEN_TYPES = {"jwt", "logout+jwt", "application/logout+jwt"}
LOGOUT_TOKEN_MAX_AGE = 120  # seconds: the IdP sends logout tokens right after issuing them
CLOCK_LEEWAY = 30  # seconds of clock skew tolerated between IdP and portal
# An attacker can post tokens with made-up key ids; without a floor between forced JWKS
# refreshes every such request would make the portal hit the IdP.
JWKS_REFRESH_INTERVAL = 10.0  # seconds
HTTP_TIMEOUT = 10  # seconds, for every request the OIDC client makes to the IdP
VIETNAM_TZ = timezone(timedelta(hours=7))

PORTAL_TITLES: dict[str, str] = {
    "national": "Cổng Dịch vụ công Quốc gia",
    "residence": "Cổng dịch vụ công Quản lý cư trú",
}
PORTAL_TAGLINES: dict[str, str] = {
    "national": "Kết nối, cung cấp thông tin và dịch vụ công mọi lúc, mọi nơi",
    "residence": "Bộ Công an — dịch vụ công trực tuyến về cư trú",
}
FORM_TITLES: dict[str, str] = {
    "national": "Tờ khai dịch vụ công",
    "residence": "Tờ khai thay đổi thông tin cư trú (CT01)",
}
CLAIM_LABELS: dict[str, str] = {
    "name": "Họ và tên",
    "family_name": "Họ",
    "middle_name": "Tên đệm",
    "given_name": "Tên",
    "birthdate": "Ngày sinh",
    "gender": "Giới tính",
    "phone_number": "Số điện thoại",
    "phone_number_verified": "Số điện thoại đã xác minh",
    "email": "Thư điện tử",
    "email_verified": "Thư điện tử đã xác minh",
    "address": "Địa chỉ",
    "cccd": "Số định danh (CCCD)",
    "tax_code": "Mã số thuế (MST)",
    "organization_name": "Tên tổ chức",
    "budget_code": "Mã đơn vị có quan hệ với ngân sách",
    "acr": "Mức độ xác thực",
    "amr": "Phương thức xác thực",
    "auth_time": "Thời điểm xác thực",
    "sid": "Mã phiên đăng nhập",
    "sub": "Mã định danh người dùng",
    "iss": "Đơn vị cấp",
    "aud": "Bên nhận",
    "azp": "Bên được cấp quyền",
    "nonce": "Giá trị chống phát lại (nonce)",
    "at_hash": "Mã băm access token",
    "iat": "Thời điểm cấp",
    "exp": "Thời điểm hết hạn",
    "updated_at": "Cập nhật lần cuối",
}
TIMESTAMP_CLAIMS = {"auth_time", "iat", "exp", "nbf", "updated_at"}
GENDERS: dict[str, str] = {"male": "Nam", "female": "Nữ", "other": "Khác"}


class LogoutTokenError(Exception):
    """A back-channel logout token that must be rejected (answered with 400)."""


class LoginError(Exception):
    """The sign-in response from the IdP cannot be accepted."""


@dataclass
class PortalSession:
    """What the portal keeps server-side about one signed-in browser."""

    id_token: str
    id_claims: dict[str, Any]
    userinfo: dict[str, Any]
    created_at: float = field(default_factory=time.time)

    @property
    def sid(self) -> str | None:
        """The IdP session id (ID token ``sid``), used by back-channel logout."""
        return self.id_claims.get("sid")

    @property
    def sub(self) -> str:
        """The subject identifier of the signed-in person."""
        return str(self.id_claims["sub"])

    @property
    def claims(self) -> dict[str, Any]:
        """ID token and userinfo claims merged; the signed ID token wins on conflict."""
        return {**self.userinfo, **self.id_claims}


class SessionStore:
    """In-process session table (the demo runs one process per portal).

    Keyed by a random portal session id kept in the signed Flask cookie, with an index from
    the IdP's ``sid`` to the portal sessions it created, so a back-channel logout can end
    them without the browser being present.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, PortalSession] = {}
        self._by_sid: dict[str, set[str]] = {}

    def create(self, record: PortalSession) -> str:
        """Store ``record`` under a new random portal session id and return that id."""
        psid = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[psid] = record
            if record.sid:
                self._by_sid.setdefault(record.sid, set()).add(psid)
        return psid

    def get(self, psid: str) -> PortalSession | None:
        """Return the session stored under ``psid``, if it is still alive."""
        with self._lock:
            return self._sessions.get(psid)

    def remove(self, psid: str) -> PortalSession | None:
        """End one portal session; return it if it existed."""
        with self._lock:
            return self._remove_locked(psid)

    def remove_by_sid(self, sid: str) -> int:
        """End every portal session created under IdP session ``sid``; return how many."""
        with self._lock:
            psids = list(self._by_sid.get(sid, ()))
            for psid in psids:
                self._remove_locked(psid)
            return len(psids)

    def remove_by_sub(self, sub: str) -> int:
        """End every portal session of subject ``sub``; return how many."""
        with self._lock:
            psids = [psid for psid, rec in self._sessions.items() if rec.sub == sub]
            for psid in psids:
                self._remove_locked(psid)
            return len(psids)

    def _remove_locked(self, psid: str) -> PortalSession | None:
        record = self._sessions.pop(psid, None)
        if record is not None and record.sid:
            siblings = self._by_sid.get(record.sid)
            if siblings is not None:
                siblings.discard(psid)
                if not siblings:
                    del self._by_sid[record.sid]
        return record


class Portal:
    """Configuration and state of one portal app (kept in ``app.extensions["portal"]``)."""

    def __init__(
        self,
        *,
        name: str,
        kind: PortalKind,
        issuer: str,
        client_id: str,
        base_url: str,
        oauth: OAuth,
    ) -> None:
        self.name = name
        self.kind = kind
        self.issuer = issuer
        self.client_id = client_id
        self.base_url = base_url
        self.oauth = oauth
        self.sessions = SessionStore()
        self._lock = threading.Lock()
        self._last_forced_jwks_fetch = 0.0
        # jti -> time after which remembering it is pointless (the token has expired)
        self._seen_jti: dict[str, float] = {}

    @property
    def redirect_uri(self) -> str:
        """Where the IdP sends the authorization response."""
        return self.base_url + "/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        """Where the IdP sends the browser after RP-initiated logout."""
        return self.base_url + "/"

    @property
    def backchannel_logout_uri(self) -> str:
        """Where the IdP posts logout tokens."""
        return self.base_url + "/backchannel-logout"

    def fetch_jwks(self, force: bool = False) -> dict[str, Any]:
        """Return the IdP's JWKS (from discovery ``jwks_uri``), cached by Authlib.

        The cache is the one Authlib uses to check ID tokens, so a key rotation seen by
        either path refreshes both. ``force`` bypasses the cache.
        """
        jwks: dict[str, Any] = self.oauth.idp.fetch_jwk_set(force=force)
        return jwks

    def validate_logout_token(self, raw: str) -> dict[str, Any]:
        """Validate a Back-Channel Logout 1.0 logout token and return its claims.

        Raises :class:`LogoutTokenError` with a short English reason when it must be
        rejected.
        """
        try:
            token = self._decode_logout_token(raw)
        except (JoseError, ValueError) as exc:
            raise LogoutTokenError(f"invalid logout token: {exc}") from exc

        typ = token.header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in LOGOUT_TOKEN_TYPES):
            raise LogoutTokenError(f"unexpected typ header: {typ!r}")

        claims = token.claims
        registry = jwt.JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            iat={"essential": True},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise LogoutTokenError(str(exc)) from exc

        now = time.time()
        if claims["iat"] < now - LOGOUT_TOKEN_MAX_AGE - CLOCK_LEEWAY:
            raise LogoutTokenError("logout token is too old (iat)")
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(
            events.get(BACKCHANNEL_LOGOUT_EVENT), dict
        ):
            raise LogoutTokenError("events claim lacks the back-channel logout event")
        # A nonce marks an ID token: refusing it stops an ID token being replayed as a
        # logout token.
        if "nonce" in claims:
            raise LogoutTokenError("logout token must not contain a nonce")
        sid, sub = claims.get("sid"), claims.get("sub")
        if sid is None and sub is None:
            raise LogoutTokenError("logout token has neither sid nor sub")
        if sid is not None and not isinstance(sid, str):
            raise LogoutTokenError("sid must be a string")

        jti = claims.get("jti")
        if jti is not None:
            self._remember_jti(str(jti), now=now, expires=float(claims["exp"]) + CLOCK_LEEWAY)
        return claims

    def _decode_logout_token(self, raw: str) -> jwt.Token:
        key_set = KeySet.import_key_set(self.fetch_jwks())
        try:
            return jwt.decode(raw, key_set, algorithms=LOGOUT_TOKEN_ALGORITHMS)
        except InvalidKeyIdError:
            # The IdP may have rotated its keys since we cached the JWKS: look once more.
            with self._lock:
                now = time.monotonic()
                if now - self._last_forced_jwks_fetch < JWKS_REFRESH_INTERVAL:
                    raise
                self._last_forced_jwks_fetch = now
            key_set = KeySet.import_key_set(self.fetch_jwks(force=True))
            return jwt.decode(raw, key_set, algorithms=LOGOUT_TOKEN_ALGORITHMS)

    def _remember_jti(self, jti: str, *, now: float, expires: float) -> None:
        """Reject a logout token seen before (replay); remember this one until it expires."""
        with self._lock:
            self._seen_jti = {k: t for k, t in self._seen_jti.items() if t > now}
            if jti in self._seen_jti:
                raise LogoutTokenError("logout token replayed (jti already seen)")
            self._seen_jti[jti] = expires


def _require_loopback(url: str, flag: str) -> str:
    """Return ``url`` without a trailing slash; refuse anything not http(s) on loopback."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme not in ("http", "https") or not loopback:
        raise ValueError(f"{flag} must be an http(s) URL on 127.0.0.1 or localhost: {url!r}")
    return url.rstrip("/")


def _format_claim(key: str, value: Any) -> str:
    """Human-readable (Vietnamese) rendering of one claim value for the claims table."""
    if key in TIMESTAMP_CLAIMS and isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, VIETNAM_TZ)
        return f"{moment:%d/%m/%Y %H:%M:%S} (UTC+7) — {value}"
    if key == "birthdate" and isinstance(value, str):
        try:
            return datetime.strptime(value, "%Y-%m-%d").strftime("%d/%m/%Y")
        except ValueError:
            return value
    if key == "gender" and isinstance(value, str):
        return GENDERS.get(value, value)
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def create_portal_app(
    *,
    name: str,
    kind: PortalKind,
    issuer: str,
    client_id: str,
    client_secret: str,
    base_url: str,
    scope: str = SCOPE,
    acr_values: str | None = None,
) -> Flask:
    """Build the portal's Flask app; its :class:`Portal` is in ``app.extensions["portal"]``.

    ``acr_values``, when given, is sent with every sign-in (a portal of services that need
    level 3 asks for ``urn:vn:sso:loa:3``).

    ``issuer`` and ``base_url`` must be loopback URLs: this demo only talks to 127.0.0.1.
    Nothing is fetched from the IdP until somebody signs in or a logout token arrives.
    """
    if kind not in PORTAL_TITLES:
        raise ValueError(f"unknown portal kind: {kind!r}")
    issuer = _require_loopback(issuer, "issuer")
    base_url = _require_loopback(base_url, "base_url")

    app = Flask(__name__)
    # Sessions live in this process only, so a per-process signing key loses nothing.
    app.secret_key = secrets.token_bytes(32)
    app.config.update(
        # Cookies ignore the port: both portals and the IdP share host 127.0.0.1, so each
        # needs its own cookie name or they overwrite one another's sessions.
        SESSION_COOKIE_NAME=f"portal_{kind}_{urlsplit(base_url).port or 80}",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )

    oauth = OAuth(app)
    oauth.register(
        name="idp",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=issuer + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": scope,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
            "default_timeout": HTTP_TIMEOUT,
            # Ignore HTTP(S)_PROXY from the environment: the IdP is on loopback.
            "trust_env": False,
        },
    )
    portal = Portal(
        name=name, kind=kind, issuer=issuer, client_id=client_id, base_url=base_url, oauth=oauth
    )
    app.extensions["portal"] = portal

    def current_session() -> PortalSession | None:
        psid = session.get("psid")
        if not psid:
            return None
        record = portal.sessions.get(psid)
        if record is None:
            # Ended by back-channel logout: forget the dangling id.
            session.pop("psid", None)
        return record

    def page(
        record: PortalSession | None = None,
        *,
        notice: str | None = None,
        error: str | None = None,
        status: int = 200,
    ) -> tuple[str, int]:
        claims = record.claims if record else {}
        # Known claims in the order of CLAIM_LABELS (person first, protocol last), then the rest.
        order = {key: index for index, key in enumerate(CLAIM_LABELS)}
        rows = sorted(claims.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))
        sources: dict[str, str] = {}
        if record:
            for key in claims:
                origin = []
                if key in record.id_claims:
                    origin.append("ID token")
                if key in record.userinfo:
                    origin.append("UserInfo")
                sources[key] = " + ".join(origin)
        html = render_template(
            "portal.html",
            portal=portal,
            record=record,
            claims=claims,
            rows=rows,
            sources=sources,
            labels=CLAIM_LABELS,
            taglines=PORTAL_TAGLINES,
            form_titles=FORM_TITLES,
            genders=GENDERS,
            fmt=_format_claim,
            notice=notice,
            error=error,
        )
        return html, status

    @app.get("/")
    def home() -> tuple[str, int]:
        record = current_session()
        notice = None
        if record is None and "state" in request.args:
            # Back from RP-initiated logout: the state must be the one we sent.
            try:
                oauth.idp.validate_logout_response()
                notice = "Bạn đã đăng xuất khỏi hệ thống định danh."
            except OAuthError:
                notice = None
        return page(record, notice=notice)

    @app.get("/login")
    def login() -> Any:
        if current_session() is not None:
            return redirect("/")
        try:
            metadata = oauth.idp.load_server_metadata()
        except requests.RequestException as exc:
            return page(error=f"Không kết nối được máy chủ định danh: {exc}", status=502)
        if metadata.get("issuer") != issuer:
            # OpenID Connect Discovery §4.3: the issuer must equal the configured one.
            return page(
                error=f"Máy chủ định danh báo issuer lạ: {metadata.get('issuer')!r}", status=502
            )
        extra = {"acr_values": acr_values} if acr_values else {}
        return oauth.idp.authorize_redirect(redirect_uri=portal.redirect_uri, **extra)

    @app.get("/callback")
    def callback() -> Any:
        try:
            token = oauth.idp.authorize_access_token()
            if "id_token" not in token or "userinfo" not in token:
                raise LoginError("phản hồi không có ID token hợp lệ")
            id_claims = dict(token["userinfo"])
            userinfo = dict(oauth.idp.userinfo(token=token))
            # OpenID Connect Core §5.3.4: userinfo must be about the ID token's subject.
            if userinfo.get("sub") != id_claims.get("sub"):
                raise LoginError("sub của UserInfo không khớp với ID token")
            # A portal that asked for a level checks it got it (OIDC Core §3.1.2.1 lets an
            # OP answer below a voluntary request; this one never does, but trust is checked).
            if acr_values and id_claims.get("acr") not in acr_values.split():
                raise LoginError("mức độ xác thực thấp hơn mức cổng yêu cầu")
        except (OAuthError, JoseError, LoginError) as exc:
            return page(error=f"Đăng nhập không thành công: {exc}", status=400)
        except requests.RequestException as exc:
            return page(error=f"Không kết nối được máy chủ định danh: {exc}", status=502)

        record = PortalSession(id_token=token["id_token"], id_claims=id_claims, userinfo=userinfo)
        # A fresh cookie on sign-in: nothing set before authentication carries over, and a
        # session this browser already had is ended rather than left orphaned.
        if previous := session.get("psid"):
            portal.sessions.remove(previous)
        session.clear()
        session["psid"] = portal.sessions.create(record)
        return redirect("/")

    @app.route("/logout", methods=["GET", "POST"])
    def logout() -> Any:
        psid = session.get("psid")
        record = portal.sessions.remove(psid) if psid else None
        session.clear()
        if record is None:
            return redirect("/")
        try:
            metadata = oauth.idp.load_server_metadata()
        except requests.RequestException as exc:
            return page(
                error=f"Đã đăng xuất khỏi cổng, nhưng không kết nối được máy chủ định danh: {exc}",
                status=502,
            )
        if not metadata.get("end_session_endpoint"):
            return redirect("/")
        return oauth.idp.logout_redirect(
            post_logout_redirect_uri=portal.post_logout_redirect_uri,
            id_token_hint=record.id_token,
            client_id=client_id,
        )

    @app.post("/backchannel-logout")
    def backchannel_logout() -> Response:
        raw = request.form.get("logout_token")
        try:
            if not raw:
                raise LogoutTokenError("missing logout_token")
            claims = portal.validate_logout_token(raw)
        except LogoutTokenError as exc:
            response = jsonify(error="invalid_request", error_description=str(exc))
            response.status_code = 400
        else:
            if claims.get("sid"):
                portal.sessions.remove_by_sid(claims["sid"])
            else:
                portal.sessions.remove_by_sub(str(claims["sub"]))
            response = Response(status=200)
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/api/session")
    def api_session() -> Response:
        record = current_session()
        response = jsonify(logged_in=record is not None, claims=record.claims if record else {})
        response.headers["Cache-Control"] = "no-store"
        return response

    return app


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve one portal with Flask's built-in server."""
    parser = argparse.ArgumentParser(description="Relying-party demo portal (OpenID Connect).")
    parser.add_argument("--name", help="display name (default: the portal's official title)")
    parser.add_argument("--kind", choices=sorted(PORTAL_TITLES), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--issuer", required=True, help="IdP base URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--base-url", help="this portal's own URL (default: http://127.0.0.1:PORT)")
    parser.add_argument("--scope", default=SCOPE, help=f"scopes to ask for (default: {SCOPE})")
    parser.add_argument("--acr-values",
                        help="assurance level to ask for, e.g. urn:vn:sso:loa:3 (default: none)")
    args = parser.parse_args(argv)

    try:
        app = create_portal_app(
            name=args.name or PORTAL_TITLES[args.kind],
            kind=args.kind,
            issuer=args.issuer,
            client_id=args.client_id,
            client_secret=args.client_secret,
            base_url=args.base_url or f"http://127.0.0.1:{args.port}",
            scope=args.scope,
            acr_values=args.acr_values,
        )
    except ValueError as exc:
        parser.error(str(exc))
    portal = app.extensions["portal"]
    # The URIs the IdP must have registered for this client, for whoever sets it up.
    print(
        f"{portal.name}: client_id={args.client_id}"
        f" redirect_uri={portal.redirect_uri}"
        f" post_logout_redirect_uri={portal.post_logout_redirect_uri}"
        f" backchannel_logout_uri={portal.backchannel_logout_uri}",
        flush=True,
    )
    app.run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
