"""An independent relying party, pyoidc (`oic`, not Authlib), against the running provider.

Every step a portal takes is oic's own code: discovery and JWKS, the authorization request
with PKCE S256, parsing the authorization response (including RFC 9207 `iss`), the token
request with client_secret_basic, ID token validation (signature against the published
JWKS, iss, aud, nonce, exp), userinfo, the refresh_token grant, RFC 7662 introspection and
RFC 7009 revocation (oic's `extension` client) and the RP-initiated logout request.
Over 400 lines: that walk is one story, each step building on the last.

The user agent in between is a plain `requests` session standing in for a browser: it
fills in the provider's forms (CCCD + password, SMS OTP, consent) and stops at the
redirect back to the portal's callback. Nothing listens at the callback: the "browser"
hands the redirect URL to oic, as a portal's callback handler would.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests
from jwkest import BadSignature
from oic import rndstr
from oic.extension.client import Client as ExtensionClient
from oic.oauth2.exception import VerificationError
from oic.oauth2.message import ErrorResponse
from oic.oic import Client
from oic.oic.message import (
    AccessTokenResponse,
    AuthorizationRequest,
    AuthorizationResponse,
    EndSessionResponse,
    RegistrationResponse,
)
from oic.utils.authn.client import CLIENT_AUTHN_METHOD
from oic.utils.settings import OicClientSettings

from tests.conftest import Person, make_person
from tests.live import LiveProvider, RegisteredPortal, free_port

CLIENT_ID = "oic-rp"
SCOPE = ["openid", "profile", "phone", "cccd", "offline_access"]
BASIC = "client_secret_basic"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- the provider, the portal registration and the citizen ---------------------------------


@dataclass
class Live:
    provider: LiveProvider
    portal: RegisteredPortal
    person: Person

    @property
    def callback(self) -> str:
        return f"{self.portal.base_url}/callback"

    @property
    def post_logout(self) -> str:
        return f"{self.portal.base_url}/"


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    """One provider under gunicorn for the module, with one portal and one account."""
    provider = LiveProvider(tmp_path_factory.mktemp("oic-rp"))
    try:
        provider.start()
        # Nothing listens on this port: the portal's side is played by oic in this process.
        portal = provider.add_portal(CLIENT_ID, f"http://127.0.0.1:{free_port()}",
                                     backchannel_logout_uri=None)
        person = make_person(42)
        provider.add_account(
            {k: getattr(person, k)
             for k in ("cccd", "full_name", "birthdate", "gender", "phone", "email")},
            person.password,
        )
        yield Live(provider, portal, person)
    finally:
        provider.stop()


# --- the relying party: pyoidc ---------------------------------------------------------------


class RecordingSession(requests.Session):
    """The RP's HTTP client; oic sends every call through it, the tests read the status."""

    last: requests.Response | None = None

    def request(self, *args, **kwargs) -> requests.Response:
        self.last = super().request(*args, **kwargs)
        return self.last


def new_rp(live: Live, secret: str | None = None) -> Client:
    """An oic client configured by discovery and by the registration the operator handed out."""
    rp = Client(client_authn_method=CLIENT_AUTHN_METHOD,
                settings=OicClientSettings(requests_session=RecordingSession()))
    rp.provider_config(live.provider.issuer)  # discovery; the JWKS comes from jwks_uri
    rp.store_registration_info(RegistrationResponse(
        client_id=live.portal.client_id,
        client_secret=secret or live.portal.secret,
        redirect_uris=[live.callback],
        post_logout_redirect_uris=[live.post_logout],
        token_endpoint_auth_method=BASIC,
    ))
    rp.redirect_uris = [live.callback]
    rp.post_logout_redirect_uris = [live.post_logout]
    return rp


def last_status(rp: Client) -> int:
    return rp.settings.requests_session.last.status_code


@dataclass
class Attempt:
    """One authorization request sent by the RP, with what it must remember."""

    url: str
    state: str
    nonce: str
    verifier: str


def authorization_request(rp: Client, **extra) -> Attempt:
    """oic builds the request: code flow, nonce, state, PKCE S256."""
    pkce, verifier = rp.add_code_challenge()
    state, nonce = rndstr(24), rndstr(24)
    args = {"response_type": "code", "scope": SCOPE, "state": state, "nonce": nonce,
            "redirect_uri": rp.redirect_uris[0], **pkce, **extra}
    url, _body, _headers, _request = rp.request_info(
        AuthorizationRequest, method="GET", request_args=args
    )
    return Attempt(url, state, nonce, verifier)


def authorization_response(rp: Client, location: str, attempt: Attempt) -> AuthorizationResponse:
    """oic parses the callback URL and checks `iss` (RFC 9207) against the discovered issuer.

    The bare oic Client leaves matching `state` to the application (its Consumer keeps a
    session store for that), so the RP code here does it, as any portal must.
    """
    response = rp.parse_response(AuthorizationResponse, info=location, sformat="urlencoded")
    assert response["state"] == attempt.state
    return response


def token_request(rp: Client, attempt: Attempt, verifier: str | None = None):
    """oic's token request: client_secret_basic, the PKCE verifier, ID token validation."""
    return rp.do_access_token_request(
        state=attempt.state,
        request_args={"redirect_uri": rp.redirect_uris[0]},
        extra_args={"code_verifier": verifier or attempt.verifier},
        authn_method=BASIC,
    )


def token_client(rp: Client) -> ExtensionClient:
    """oic's OAuth extension client (RFC 7662/7009), same registration and discovery."""
    ext = ExtensionClient(client_id=rp.client_id, client_authn_method=CLIENT_AUTHN_METHOD,
                          settings=rp.settings)
    ext.client_secret = rp.client_secret
    ext.handle_provider_config(rp.provider_info, rp.provider_info["issuer"], keys=False)
    return ext


def introspect(rp: Client, token: str, hint: str = "access_token"):
    return token_client(rp).do_token_introspection(
        request_args={"token": token, "token_type_hint": hint}, authn_method=BASIC
    )


# --- the user agent: a requests session playing the browser ----------------------------------


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class UserAgent:
    """Follows the provider's redirects, fills in its forms, stops at the portal's callback."""

    live: Live
    http: requests.Session = field(default_factory=requests.Session)
    visited: list[str] = field(default_factory=list)

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        response = self.http.request(method, url, allow_redirects=False, timeout=10, **kwargs)
        # Browsers send Secure cookies to http://127.0.0.1 (loopback is a secure context);
        # Python's cookie jar sends them over https only, so keep them as a browser would.
        for cookie in self.http.cookies:
            cookie.secure = False
        return response

    def get(self, url: str) -> requests.Response:
        return self.request("GET", url)

    def submit(self, page_url: str, **fields) -> requests.Response:
        """GET the page, then POST its form with the CSRF token and the interaction id."""
        page = self.get(page_url)
        assert page.status_code == 200, page.text
        data = {"csrf_token": CSRF.search(page.text).group(1), "tx": query(page_url)["tx"]}
        action = urlsplit(page_url).path
        return self.request("POST", urljoin(page_url, action), data={**data, **fields})

    def step(self, location: str) -> requests.Response:
        path = urlsplit(location).path
        self.visited.append(path)
        person = self.live.person
        if path == "/login":
            return self.submit(location, cccd=person.cccd, password=person.password)
        if path == "/login/otp":
            return self.submit(location, otp=self.live.provider.last_otp())
        if path == "/consent":
            return self.submit(location, decision="allow")
        return self.get(location)

    def follow(self, url: str) -> requests.Response:
        """From the RP's authorize URL to the provider's last answer (redirect or page)."""
        response = self.get(url)
        while response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(self.live.callback):
                return response
            response = self.step(location)
        return response

    def sign_in(self, url: str) -> str:
        """The whole interactive login; returns the redirect URL back to the portal."""
        response = self.follow(url)
        assert response.is_redirect, (response.status_code, response.text[:500])
        return response.headers["Location"]


@dataclass
class SignedIn:
    """A browser with an SSO session and the RP's state after a completed code flow."""

    rp: Client
    browser: UserAgent
    attempt: Attempt
    tokens: AccessTokenResponse


def sign_in(live: Live) -> SignedIn:
    rp, browser = new_rp(live), UserAgent(live)
    attempt = authorization_request(rp)
    authorization_response(rp, browser.sign_in(attempt.url), attempt)
    return SignedIn(rp, browser, attempt, token_request(rp, attempt))


def code_for(signed_in: SignedIn, rp: Client) -> Attempt:
    """A new code from the existing SSO session (no login, consent already given)."""
    attempt = authorization_request(rp)
    authorization_response(rp, signed_in.browser.sign_in(attempt.url), attempt)
    return attempt


def tampered(jws: str) -> str:
    """The same token with one byte of its signature changed."""
    header, payload, signature = jws.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0x01
    return f"{header}.{payload}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}"


@pytest.fixture(scope="module")
def signed_in(live) -> SignedIn:
    return sign_in(live)


# --- the happy path ----------------------------------------------------------------------------


def test_discovery_is_read_by_oic(live):
    rp = new_rp(live)
    issuer = live.provider.issuer
    assert rp.provider_info["issuer"] == issuer
    assert rp.authorization_endpoint == f"{issuer}/authorize"
    assert rp.token_endpoint == f"{issuer}/token"
    assert rp.end_session_endpoint == f"{issuer}/logout"
    assert rp.keyjar.get_verify_key(owner=issuer), "oic loaded no keys from jwks_uri"


def test_code_flow_with_login_otp_and_consent(live, signed_in):
    # A passed code goes straight on to the consent page, and the consent to the portal.
    assert signed_in.browser.visited[:3] == ["/login", "/login/otp", "/consent"]
    tokens = signed_in.tokens
    assert isinstance(tokens, AccessTokenResponse), tokens
    assert tokens["token_type"].lower() == "bearer"
    assert tokens["refresh_token"]


def test_id_token_validated_by_oic(live, signed_in):
    id_token = signed_in.tokens["id_token"]  # an IdToken oic verified against the JWKS
    assert id_token["iss"] == live.provider.issuer
    assert id_token["aud"] == [CLIENT_ID]
    assert id_token["nonce"] == signed_in.attempt.nonce
    assert id_token["sub"] and id_token["sid"]
    assert id_token["amr"] and id_token["acr"]
    assert id_token.jws_header["alg"] == "RS256"


def test_userinfo(live, signed_in):
    info = signed_in.rp.do_user_info_request(method="GET", state=signed_in.attempt.state)
    # oic checks that userinfo's `sub` is the ID token's.
    assert info["sub"] == signed_in.tokens["id_token"]["sub"]
    assert info["name"] == live.person.full_name
    assert info["cccd"] == live.person.cccd
    assert info["phone_number"] == live.person.phone


def test_refresh_token_grant(live):
    session = sign_in(live)
    first = session.tokens
    refreshed = session.rp.do_access_token_refresh(state=session.attempt.state,
                                                   authn_method=BASIC)
    assert isinstance(refreshed, AccessTokenResponse), refreshed
    assert refreshed["access_token"] != first["access_token"]
    assert refreshed["refresh_token"] != first["refresh_token"]  # rotated
    # The new ID token is validated by oic too; same subject, same authentication.
    assert refreshed["id_token"]["sub"] == first["id_token"]["sub"]
    assert refreshed["id_token"]["auth_time"] == first["id_token"]["auth_time"]


def test_introspection_and_revocation(live):
    session = sign_in(live)
    rp, tokens = session.rp, session.tokens
    active = introspect(rp, tokens["access_token"])
    assert active["active"] is True
    assert active["client_id"] == CLIENT_ID
    assert active["sub"] == tokens["id_token"]["sub"]

    # Revoking the refresh token ends the whole grant (RFC 7009 §2.1).
    status = token_client(rp).do_token_revocation(
        request_args={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        authn_method=BASIC,
    )
    assert status == 200
    assert introspect(rp, tokens["refresh_token"], "refresh_token")["active"] is False
    assert introspect(rp, tokens["access_token"])["active"] is False
    refused = rp.do_user_info_request(method="GET", state=session.attempt.state)
    assert isinstance(refused, ErrorResponse) and refused["error"] == "invalid_token"


def test_rp_initiated_logout(live):
    session = sign_in(live)
    logout_state = rndstr(24)
    request = session.rp.construct_EndSessionRequest(
        state=session.attempt.state,  # which grant's ID token oic sends as the hint
        request_args={"post_logout_redirect_uri": live.post_logout, "state": logout_state},
    )
    assert request["id_token_hint"] == session.tokens["id_token_jwt"]
    response = session.browser.get(request.request(session.rp.end_session_endpoint))
    assert response.status_code in (302, 303), response.text[:500]
    location = response.headers["Location"]
    assert location.startswith(live.post_logout)
    answer = session.rp.parse_response(EndSessionResponse, info=location, sformat="urlencoded")
    assert answer["state"] == logout_state
    # The SSO session is over: the same browser must log in again.
    attempt = authorization_request(session.rp, prompt="none")
    error = session.rp.parse_response(AuthorizationResponse,
                                      info=session.browser.sign_in(attempt.url),
                                      sformat="urlencoded")
    assert error["error"] == "login_required"


# --- what the provider must refuse -----------------------------------------------------------


def test_wrong_client_secret_is_invalid_client(live, signed_in):
    rp = new_rp(live, secret="not-the-secret-" + "x" * 20)
    attempt = code_for(signed_in, rp)
    answer = token_request(rp, attempt)
    assert last_status(rp) == 401
    assert isinstance(answer, ErrorResponse) and answer["error"] == "invalid_client"


def test_reused_code_is_invalid_grant(live, signed_in):
    rp = new_rp(live)
    attempt = code_for(signed_in, rp)
    first = token_request(rp, attempt)
    assert isinstance(first, AccessTokenResponse)
    again = token_request(rp, attempt)  # oic still holds the code of this state
    assert last_status(rp) == 400
    assert isinstance(again, ErrorResponse) and again["error"] == "invalid_grant"
    # RFC 6749 §4.1.2: what the code first issued is revoked too.
    assert introspect(rp, first["access_token"])["active"] is False


def test_wrong_pkce_verifier_is_invalid_grant(live, signed_in):
    rp = new_rp(live)
    attempt = code_for(signed_in, rp)
    _args, other_verifier = rp.add_code_challenge()
    answer = token_request(rp, attempt, verifier=other_verifier)
    assert last_status(rp) == 400
    assert isinstance(answer, ErrorResponse) and answer["error"] == "invalid_grant"


def test_oic_refuses_an_authorization_response_from_another_issuer(live, signed_in):
    """RFC 9207 mix-up defence: the provider sends `iss`, oic compares it with discovery."""
    rp = new_rp(live)
    attempt = authorization_request(rp)
    location = signed_in.browser.sign_in(attempt.url)
    params = query(location)
    assert params["iss"] == live.provider.issuer
    forged = f"{live.callback}?{urlencode({**params, 'iss': 'http://127.0.0.1:1'})}"
    with pytest.raises(VerificationError, match="Issuer mismatch"):
        rp.parse_response(AuthorizationResponse, info=forged, sformat="urlencoded")


def test_unregistered_redirect_uri_shows_a_page_and_never_redirects(live):
    rp = new_rp(live)
    attempt = authorization_request(rp, redirect_uri="http://127.0.0.1:9/evil")
    response = UserAgent(live).get(attempt.url)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert 'href="http://127.0.0.1:9/evil' not in response.text


def test_prompt_none_without_session_is_login_required(live):
    rp = new_rp(live)
    attempt = authorization_request(rp, prompt="none")
    response = UserAgent(live).get(attempt.url)  # a fresh browser: no SSO session
    assert response.status_code == 302
    assert response.headers["Location"].startswith(live.callback)
    error = rp.parse_response(AuthorizationResponse, info=response.headers["Location"],
                              sformat="urlencoded")
    assert error["error"] == "login_required"
    assert error["state"] == attempt.state
    assert query(response.headers["Location"])["iss"] == live.provider.issuer


def test_tampered_id_token_hint_at_logout_is_refused_without_redirect(live, signed_in):
    rp = signed_in.rp
    request = rp.construct_EndSessionRequest(request_args={
        "id_token_hint": tampered(signed_in.tokens["id_token_jwt"]),
        "post_logout_redirect_uri": live.post_logout,
        "state": rndstr(24),
    })
    response = signed_in.browser.get(request.request(rp.end_session_endpoint))
    assert response.status_code == 400
    assert "Location" not in response.headers
    # Nor was anyone logged out: the SSO session still answers prompt=none with a code.
    attempt = authorization_request(rp, prompt="none")
    assert "code" in authorization_response(rp, signed_in.browser.sign_in(attempt.url), attempt)


def test_oic_refuses_an_id_token_with_a_tampered_signature(live, signed_in):
    rp = new_rp(live)
    attempt = code_for(signed_in, rp)
    token_request(rp, attempt)  # a genuine response, to replay with one byte changed
    body = json.loads(rp.settings.requests_session.last.text)
    body["id_token"] = tampered(body["id_token"])
    with pytest.raises(BadSignature):  # pyjwkest, oic's JOSE library, checks against the JWKS
        rp.parse_response(AccessTokenResponse, info=json.dumps(body), sformat="json",
                          state=attempt.state)
