"""Authorization endpoint (OIDC Core §3.1.2): validate, decide, pause for login, answer.

Authlib validates the client, the exact redirect URI, the response type, the
scope and PKCE. The checks below add what OIDC asks of an OP; each runs in
`read_request`, in order. `decide` then either answers the portal at once (a
live SSO session that satisfies the request and an existing consent) or
pauses at an interaction, which `/authorize/resume` picks up afterwards.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from flask import redirect, request, url_for
from sqlalchemy import select

from idp.audit import record_event
from idp.errors import error_page
from idp.interaction import (
    Authentication,
    Interaction,
    end_interaction,
    load_interaction,
    save_interaction,
    start_interaction,
)
from idp.levels import PASSWORD_SMS_LEVEL, level_of
from idp.oidc import authorization_server, bp
from idp.oidc.grants import Grantee
from idp.oidc.par import pushed_request
from idp.oidc.request_object import decode_request_object
from idp.provider import provider
from idp.security.headers import allow_form_target
from idp.sessions import browser_id, current_session, touch_session
from idp.store.models import Account, Consent
from idp.usbtoken.verification import usb_token_available

PROMPTS = {"none", "login", "consent"}
CCCD = re.compile(r"^\d{12}$")


class UnmetAuthenticationRequirements(OAuth2Error):
    """OpenID errata: the requested acr cannot be met by any method the account has."""

    error = "unmet_authentication_requirements"


@dataclass
class AuthorizationRequest:
    """What the checks read from the request, beyond what Authlib validated."""

    prompt: set[str]
    max_age: int | None
    acr_min: int
    login_hint: str | None


# --- the checks, in the order they run -------------------------------------------------


def check_openid_scope(grant) -> None:
    """This is an OpenID provider: every request asks for the `openid` scope."""
    if "openid" not in (grant.request.scope or "").split():
        raise InvalidScopeError("The 'openid' scope is required.")


def check_pushed_request(grant) -> None:
    """PAR (RFC 9126 §5): a client that must push (per client, `fapi2`, or every client by
    config) comes with a `request_uri`; the front channel alone is refused."""
    if "request_uri" in grant.request.payload.data:
        return
    if grant.client.pushed_requests_only or provider().settings.oauth.require_par:
        raise InvalidRequestError("This client must push its authorization requests to /par.")


def check_response_mode(data) -> None:
    """Only the default `query` response mode: no fragment, no form_post."""
    if data.get("response_mode", "query") != "query":
        raise InvalidRequestError("Only response_mode=query is supported.")


def check_prompt(data) -> set[str]:
    """`prompt` values are known, and `none` stands alone (OIDC Core §3.1.2.1)."""
    prompt = set((data.get("prompt") or "").split())
    if prompt - PROMPTS:
        raise InvalidRequestError("Unsupported 'prompt' value.")
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequestError("'prompt=none' cannot be combined with other values.")
    return prompt


def check_max_age(data) -> int | None:
    """`max_age` is a non-negative integer number of seconds."""
    value = data.get("max_age")
    if value in (None, ""):
        return None
    if not value.isdigit() or len(value) > 10:
        raise InvalidRequestError("'max_age' must be a non-negative integer.")
    return int(value)


def check_acr_values(data) -> int:
    """The lowest level among the requested acr values we know; never silently less."""
    values = (data.get("acr_values") or "").split()
    if not values:
        return 2
    levels = [level_of(value) for value in values if level_of(value)]
    if not levels:
        raise InvalidRequestError("None of the requested 'acr_values' is supported.")
    return min(levels)


def check_login_hint(data) -> str | None:
    """A `login_hint` is used only when it is a CCCD number."""
    hint = (data.get("login_hint") or "").strip()
    return hint if CCCD.match(hint) else None


def read_request(grant) -> AuthorizationRequest:
    """Run every check; raise the OAuth error of the first that fails."""
    data = grant.request.payload.data
    check_openid_scope(grant)
    check_pushed_request(grant)
    check_response_mode(data)
    return AuthorizationRequest(
        prompt=check_prompt(data),
        max_age=check_max_age(data),
        acr_min=check_acr_values(data),
        login_hint=check_login_hint(data),
    )


# --- answering the portal ---------------------------------------------------------------


class StoredAuthorizationRequest(OAuth2Request):
    """An authorization request rebuilt from an interaction's saved parameters."""

    def __init__(self, params: dict[str, str]) -> None:
        super().__init__("GET", provider().issuer + "/authorize")
        self.payload = BasicOAuth2Payload(params)
        self._params = params

    @property
    def args(self):
        return self._params

    @property
    def form(self):
        return {}


def validated_grant(params: dict[str, str] | None):
    """Authlib's code grant for the live request (params None) or a saved one."""
    server = authorization_server()
    oauth_request = (
        server.create_oauth2_request(None) if params is None else StoredAuthorizationRequest(params)
    )
    grant = server.get_authorization_grant(oauth_request)
    grant.validate_no_multiple_request_parameter(oauth_request)
    grant.validate_consent_request()
    return grant


def _redirect_to_portal(location: str):
    # After a POST the browser must follow with GET (RFC 9700 §4.11).
    allow_form_target(location)
    return redirect(location, 303 if request.method == "POST" else 302)


def answer_with_error(error: OAuth2Error, state: str | None):
    """Send the error to the portal when its redirect URI is proven, else show a page."""
    if not error.redirect_uri:
        return error_page(
            400,
            "Yêu cầu đăng nhập từ cổng dịch vụ không hợp lệ "
            f"({error.error}: {error.description or ''}). Vui lòng quay lại cổng dịch vụ.",
        )
    params = [("error", error.error)]
    if error.description:
        params.append(("error_description", error.description))
    if state:
        params.append(("state", state))
    params.append(("iss", provider().issuer))
    return _redirect_to_portal(add_params_to_uri(error.redirect_uri, params))


def issue_code(grant, auth: Authentication, interaction: Interaction | None):
    """Answer the portal with a code for this authentication (RFC 9207 `iss` included)."""
    account = provider().db.session.get(Account, auth.account_id)
    grantee = Grantee(
        account_id=account.id,
        subject=account.subject,
        auth_time=auth.auth_time,
        acr=auth.acr,
        amr=auth.amr,
        sid=auth.sid,
        grant_id=secrets.token_hex(16),
    )
    _status, _body, headers = grant.create_authorization_response(grant.redirect_uri, grantee)
    location = add_params_to_uri(dict(headers)["Location"], [("iss", provider().issuer)])
    session = current_session()
    if session is not None and session.sid == auth.sid:
        touch_session(session, grant.client.client_id)
    if interaction is not None:
        end_interaction(interaction)
    return _redirect_to_portal(location)


def _has_consent(account_id: int, client_id: str, scopes: list[str]) -> bool:
    consent = provider().db.session.scalar(
        select(Consent).where(Consent.account_id == account_id, Consent.client_id == client_id)
    )
    return consent is not None and set(scopes) <= set(consent.scopes)


def _session_satisfies(req: AuthorizationRequest, session) -> bool:
    if session is None or "login" in req.prompt:
        return False
    if req.max_age is not None and time.time() - session.auth_time > req.max_age:
        return False
    if level_of(session.acr) < req.acr_min:
        return False
    if req.login_hint:
        account = provider().db.session.get(Account, session.account_id)
        if account is None or account.cccd != req.login_hint:
            return False
    return True


def decide(grant, req: AuthorizationRequest, params: dict, interaction: Interaction | None):
    """Answer now, or pause at the login or consent interaction."""
    client = grant.client
    auth = interaction.authenticated if interaction is not None else None
    if auth is not None and level_of(auth.acr) < req.acr_min:
        # A login below the level asked for (the password page opened by hand during a
        # level-3 request) never answers the portal: the token is asked for instead.
        interaction.authenticated = auth = None
        save_interaction(interaction)
    if auth is None:
        session = current_session()
        if not _session_satisfies(req, session):
            if "none" in req.prompt:
                raise LoginRequiredError(redirect_uri=grant.redirect_uri)
            if req.acr_min > PASSWORD_SMS_LEVEL and not usb_token_available():
                raise UnmetAuthenticationRequirements(
                    "Level 3 authentication is not available.", redirect_uri=grant.redirect_uri
                )
            interaction = interaction or start_interaction(
                browser_id(), params=params, client_id=client.client_id, client_name=client.name
            )
            # Level 3 is the USB token's (a level-2 session there is stepped up).
            login = "usb.login" if req.acr_min > PASSWORD_SMS_LEVEL else "login.password"
            return redirect(url_for(login, tx=interaction.id), 303
                            if request.method == "POST" else 302)
        auth = Authentication(
            session.account_id, session.auth_time, session.acr, session.amr, session.sid
        )
        # The citizen's access history shows every portal the session logged them in to.
        record_event("login.sso", "success", account_id=session.account_id,
                     client_id=client.client_id, method="sso", acr=session.acr)

    scopes = grant.request.scope.split()
    consented = interaction is not None and interaction.consented
    if not consented and ("consent" in req.prompt or not _has_consent(
        auth.account_id, client.client_id, scopes
    )):
        if "none" in req.prompt:
            raise ConsentRequiredError(redirect_uri=grant.redirect_uri)
        if interaction is None:
            interaction = start_interaction(
                browser_id(), params=params, client_id=client.client_id, client_name=client.name
            )
        if interaction.authenticated is None:
            interaction.authenticated = auth
            save_interaction(interaction)
        return redirect(url_for("login.consent", tx=interaction.id), 303
                        if request.method == "POST" else 302)
    return issue_code(grant, auth, interaction)


def front_channel_parameters(params: dict[str, str]) -> dict[str, str]:
    """What the browser brought, resolved: a pushed request (RFC 9126 §4) or a signed request
    object (RFC 9101 §5) replaces the plain parameters; anything else is taken as it is."""
    if "request" in params and "request_uri" in params:
        raise InvalidRequestError("'request' and 'request_uri' cannot be sent together.")
    if "request_uri" in params:
        return pushed_request(params)
    if "request" in params:
        client = provider().clients.find(params.get("client_id") or "")
        if client is None:
            raise InvalidClientError("The client does not exist on this server.")
        return {**decode_request_object(params, client), "client_id": client.client_id}
    return params


def _proven_redirect_uri(params: dict[str, str]) -> str | None:
    """The plain `redirect_uri`, when it is registered for the plain `client_id`."""
    client = provider().clients.find(params.get("client_id") or "")
    uri = params.get("redirect_uri")
    return uri if client is not None and uri and client.check_redirect_uri(uri) else None


@bp.route("/authorize", methods=["GET", "POST"])
def authorize():
    """The portal's redirect lands here."""
    params = {key: request.values[key] for key in request.values}
    try:
        resolved = front_channel_parameters(params)
    except OAuth2Error as error:
        # The portal hears of it only at a redirect URI registered for it.
        error.redirect_uri = _proven_redirect_uri(params)
        return answer_with_error(error, params.get("state"))
    # Plain parameters are validated from the live request (which also sees duplicates).
    return _run(resolved, None, live=resolved is params)


@bp.route("/authorize/resume", methods=["GET"])
def resume():
    """The login flow hands the browser back here with its interaction id."""
    interaction = load_interaction(request.args.get("tx", ""), browser_id())
    if interaction is None:
        return error_page(
            400,
            "Phiên đăng nhập đã hết hạn hoặc không hợp lệ. "
            "Vui lòng quay lại cổng dịch vụ và đăng nhập lại.",
        )
    return _run(interaction.params, interaction)


def _run(params: dict, interaction: Interaction | None, live: bool = False):
    state = params.get("state")
    try:
        grant = validated_grant(None if live else params)
    except OAuth2Error as error:
        return answer_with_error(error, state)
    try:
        req = read_request(grant)
        return decide(grant, req, params, interaction)
    except OAuth2Error as error:
        if not error.redirect_uri:
            error.redirect_uri = grant.redirect_uri
        return answer_with_error(error, state)
