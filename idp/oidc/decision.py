"""Answering the portal (OIDC Core §3.1.2.5): at once, from a live SSO session and an
existing consent, or after pausing at the login or consent interaction.

`idp.oidc.authorize` validates the request and calls `decide`; a login or consent that
passes calls it again with its result, in the same request (`continue_authorization`), so
the browser goes straight on to the portal.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from flask import redirect, request, url_for
from sqlalchemy import select

from idp.audit import record_event
from idp.interaction import (
    Authentication,
    Interaction,
    end_interaction,
    save_interaction,
    start_interaction,
)
from idp.interaction.levels import level_of
from idp.interaction.methods import entry_for
from idp.oidc.claims import scope_claims
from idp.oidc.claims_request import individually_released, release
from idp.oidc.grants import Grantee
from idp.oidc.subject import subject_for
from idp.provider import provider
from idp.security.headers import allow_form_target
from idp.sessions import browser_id, current_session, session_handle, touch_session
from idp.store.models import Account, Consent

if TYPE_CHECKING:
    from idp.oidc.authorize import AuthorizationRequest


class UnmetAuthenticationRequirements(OAuth2Error):
    """OpenID errata: the requested acr cannot be met by any method the account has."""

    error = "unmet_authentication_requirements"


def redirect_to_portal(location: str):
    # After a POST the browser must follow with GET (RFC 9700 §4.11).
    allow_form_target(location)
    return redirect(location, 303 if request.method == "POST" else 302)


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
    return redirect_to_portal(location)


def has_consent(account_id: int, client_id: str, scopes: list[str], claims: list[str]) -> bool:
    """The account allowed these scopes and these individually requested claims."""
    consent = provider().db.session.scalar(
        select(Consent).where(Consent.account_id == account_id, Consent.client_id == client_id)
    )
    if consent is None or not set(scopes) <= set(consent.scopes):
        return False
    return set(claims) <= set(consent.claims or []) | scope_claims(consent.scopes)


def _is_requested_subject(req: AuthorizationRequest, account_id: int, client) -> bool:
    """OIDC Core §3.1.2.2: `sub` asked with a value is answered only for that user."""
    wanted = req.claims.subject() if req.claims is not None else None
    if wanted is None:
        return True
    account = provider().db.session.get(Account, account_id)
    return account is not None and subject_for(account.subject, client) == wanted


def _session_satisfies(req: AuthorizationRequest, session, client) -> bool:
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
    return _is_requested_subject(req, session.account_id, client)


def decide(grant, req: AuthorizationRequest, params: dict, interaction: Interaction | None):
    """Answer now, or pause at the login or consent interaction."""
    client = grant.client
    auth = interaction.authenticated if interaction is not None else None
    if auth is not None and level_of(auth.acr) < req.acr_min:
        # A login below the level asked for (the password page opened by hand during a
        # level-3 request) never answers the portal: the token is asked for instead.
        interaction.authenticated = auth = None
        save_interaction(interaction)
    if auth is not None and not _is_requested_subject(req, auth.account_id, client):
        raise LoginRequiredError("The requested subject did not log in.",
                                 redirect_uri=grant.redirect_uri)
    if auth is None:
        session = current_session()
        if not _session_satisfies(req, session, client):
            if "none" in req.prompt:
                raise LoginRequiredError(redirect_uri=grant.redirect_uri)
            method = entry_for(req.acr_min)
            if method is None:
                raise UnmetAuthenticationRequirements(
                    f"Level {req.acr_min} authentication is not available.",
                    redirect_uri=grant.redirect_uri)
            interaction = interaction or start_interaction(
                browser_id(), params=params, client_id=client.client_id, client_name=client.name
            )
            # A session below the level asked for is stepped up on the method's page.
            return redirect(url_for(method.entry, tx=interaction.id), 303
                            if request.method == "POST" else 302)
        auth = Authentication(
            session.account_id, session.auth_time, session.acr, session.amr, session.sid
        )
        # The citizen's access history shows every portal the session logged them in to.
        # The session's handle lets "Không phải tôi" on this row end that session.
        record_event("login.sso", "success", account_id=session.account_id,
                     client_id=client.client_id, method="sso", acr=session.acr,
                     session=session_handle(session.sid))

    scopes = grant.request.scope.split()
    claims = individually_released(release(req.claims, client))
    consented = interaction is not None and interaction.consented
    if not consented and ("consent" in req.prompt or not has_consent(
        auth.account_id, client.client_id, scopes, claims
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
