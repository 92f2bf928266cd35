"""Authorization endpoint (OIDC Core §3.1.2): validate, decide, pause for login, answer.

Authlib validates the client, the exact redirect URI, the response type, the
scope and PKCE. The checks below add what OIDC asks of an OP; each runs in
`read_request`, in order. `decide` (idp.oidc.decision) then answers the portal at once (a
live SSO session that satisfies the request and an existing consent) or
pauses at an interaction, which `/authorize/resume` picks up afterwards.
"""

from __future__ import annotations

import re
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
from flask import request

from idp.errors import error_page
from idp.interaction import Interaction, load_interaction
from idp.interaction.levels import level_of
from idp.oidc import authorization_server, bp
from idp.oidc.claims_request import ClaimsRequest, parse_claims_request
from idp.oidc.decision import UnmetAuthenticationRequirements, decide, redirect_to_portal
from idp.oidc.par import pushed_request
from idp.oidc.request_object import decode_request_object
from idp.params import ID_MAX, is_protocol_text, parse_number
from idp.provider import provider
from idp.sessions import browser_id

PROMPTS = {"none", "login", "consent"}
CCCD = re.compile(r"^\d{12}$")


@dataclass
class AuthorizationRequest:
    """What the checks read from the request, beyond what Authlib validated."""

    prompt: set[str]
    max_age: int | None
    acr_min: int
    login_hint: str | None
    claims: ClaimsRequest | None = None


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
    seconds = parse_number(value, maximum=ID_MAX)
    if seconds is None:
        raise InvalidRequestError("'max_age' must be a non-negative integer.")
    return seconds


def check_claims_parameter(data) -> ClaimsRequest | None:
    """`claims` (OIDC Core §5.5) is a JSON object of `userinfo` and `id_token` requests."""
    return parse_claims_request(data.get("claims"))


def check_acr_values(data) -> int:
    """The lowest level among the requested acr values we know, from `acr_values` or from
    `acr` asked as an essential claim (§5.5.1.1), whichever is higher; never silently less."""
    level = 2
    values = (data.get("acr_values") or "").split()
    if values:
        levels = [level_of(value) for value in values if level_of(value)]
        if not levels:
            raise InvalidRequestError("None of the requested 'acr_values' is supported.")
        level = min(levels)
    claims = parse_claims_request(data.get("claims"))
    essential = claims.essential_acr_level() if claims is not None else None
    if essential == 0:
        raise UnmetAuthenticationRequirements("None of the essential acr values is supported.")
    return max(level, essential or 2)


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
        claims=check_claims_parameter(data),
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


# Parameters Authlib quotes in its error descriptions: outside protocol text they would make
# it raise ValueError (a 500) instead of the OAuth error.
QUOTED_PARAMETERS = ("response_type", "redirect_uri", "client_id", "scope", "response_mode",
                     "code_challenge_method", "prompt", "grant_type")


def check_protocol_text(data) -> None:
    """Protocol parameters are printable ASCII (RFC 6749 appendix A)."""
    for name in QUOTED_PARAMETERS:
        value = data.get(name)
        if value is not None and not (isinstance(value, str) and is_protocol_text(value)):
            raise InvalidRequestError(f"'{name}' must be printable ASCII.")


def validated_grant(params: dict[str, str] | None):
    """Authlib's code grant for the live request (params None) or a saved one."""
    check_protocol_text(request.values if params is None else params)
    server = authorization_server()
    oauth_request = (
        server.create_oauth2_request(None) if params is None else StoredAuthorizationRequest(params)
    )
    grant = server.get_authorization_grant(oauth_request)
    grant.validate_no_multiple_request_parameter(oauth_request)
    grant.validate_consent_request()
    return grant


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
    return redirect_to_portal(add_params_to_uri(error.redirect_uri, params))


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
    return continue_authorization(interaction)


def continue_authorization(interaction: Interaction):
    """Answer the portal for an interaction whose step has just passed (a login, a consent),
    in the same request: the code (or the consent page, or a higher level's page) without a
    trip back through `/authorize/resume`."""
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
