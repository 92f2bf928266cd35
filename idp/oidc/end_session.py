"""RP-initiated logout 1.0: `/logout` with id_token_hint, post_logout_redirect_uri, state.

A logout ends the session without asking only when the request proves it belongs to it:
an ID token hint whose `sid` and `sub` are this browser's session's (§2: the OP asks when
the hint does not match the current session or user). Otherwise — no hint, another
citizen's token, an old session's — the citizen is asked, and only the confirmed,
CSRF-checked POST ends anything (so nobody's ID token is a tool to log others out).
"""

from __future__ import annotations

import secrets

from authlib.oauth2 import OAuth2Error
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import redirect, render_template, request
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from idp.audit import record_event
from idp.errors import error_page
from idp.oidc import authorization_server, bp
from idp.oidc.backchannel import notify_portals
from idp.oidc.signed_tokens import ALGORITHMS, header_type
from idp.oidc.subject import subject_for
from idp.provider import provider
from idp.security.headers import allow_form_target
from idp.sessions import current_session, end_session
from idp.store.models import Account


class EndSession(EndSessionEndpoint):
    def get_server_jwks(self):
        return provider().keys.verification_keys()

    def get_algorithms(self) -> list[str]:
        return ALGORITHMS

    def is_post_logout_redirect_uri_legitimate(self, req, uri, client, logout_hint) -> bool:
        # Without an ID token hint, the user's own confirmation (a CSRF-checked
        # POST) is what makes a registered URI legitimate to return to.
        return request.method == "POST" and request.form.get("confirm") == "yes"

    def end_session(self, end_session_request) -> None:
        # Only this browser's own session ends: an ID token hint is often old or leaked,
        # and must not let anyone log a citizen out elsewhere.
        session = current_session()
        if session is None or (ended := end_session(session.sid)) is None:
            return
        notify_portals(ended)
        client = end_session_request.client
        record_event("logout", "success", account_id=ended.account_id,
                     client_id=client.client_id if client else None)


def hint_matches_session(req) -> bool:
    """Whether the validated ID token hint names this browser's live session (`sid`) and
    its citizen as the hinted portal knows them (`sub`)."""
    claims, session, client = req.id_token_claims, current_session(), req.client
    if claims is None or session is None or client is None:
        return False
    if not secrets.compare_digest(str(claims.get("sid", "")), session.sid):
        return False
    account = provider().db.session.get(Account, session.account_id)
    return account is not None and secrets.compare_digest(
        str(claims.get("sub", "")), subject_for(account.subject, client))


@bp.route("/logout", methods=["GET", "POST"])
def end_session_view():
    """Log the browser out; confirm first unless a valid ID token hint came along."""
    server = authorization_server()
    if header_type(request.values.get("id_token_hint", "")) in ("at+jwt", "logout+jwt"):
        return error_page(400, "Yêu cầu đăng xuất không hợp lệ (id_token_hint không phải là "
                          "ID token). Bạn chưa bị đăng xuất.")
    try:
        req = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        # A bad hint never leads to a redirect (RP-Initiated Logout §4).
        return error_page(
            400,
            "Yêu cầu đăng xuất không hợp lệ (" + (error.description or error.error) + "). "
            "Bạn chưa bị đăng xuất; vui lòng đăng xuất từ cổng dịch vụ hoặc đóng trình duyệt.",
        )
    confirmed = request.method == "POST" and request.form.get("confirm") == "yes"
    if confirmed:
        # Portals may POST here without a token; the user's own confirmation must not be forged.
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError:
            return error_page(400, "Yêu cầu xác nhận đăng xuất không hợp lệ. Vui lòng thử lại.")
    if not confirmed and not hint_matches_session(req):
        params = {
            key: request.values[key]
            for key in ("id_token_hint", "post_logout_redirect_uri", "client_id", "state",
                        "ui_locales")
            if request.values.get(key)
        }
        if req.redirect_uri or params.get("post_logout_redirect_uri"):
            allow_form_target(req.redirect_uri or params["post_logout_redirect_uri"])
        return render_template("oidc/logout_confirm.html", params=params,
                               logged_in=current_session() is not None,
                               client_name=req.client.name if req.client else None)
    response = server.create_endpoint_response("end_session", req)
    if response is None:
        return render_template("oidc/logged_out.html")
    location = response.headers["Location"]
    allow_form_target(location)
    return redirect(location, 303 if request.method == "POST" else 302)
