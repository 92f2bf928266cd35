"""Console pages that only read or end things: identity, access history, sessions, portals."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from idp.account import services
from idp.account.history import access_history, session_rows
from idp.account.web import bp, page, viewer
from idp.interaction.levels import LEVEL_LABELS, VERIFIED_BY
from idp.oidc.claims import GENDERS
from idp.params import page_number
from idp.vntime import vietnam_time
from vnid.person import mask_cccd, mask_phone


@bp.route("/account")
def home():
    """Identity information, partly masked, with the assurance level and how it was verified."""
    current = viewer()
    account = current.account
    return page(
        "home.html", current,
        cccd=mask_cccd(account.cccd) if account.cccd else None,
        gender=GENDERS.get(account.gender, account.gender),
        phones=[(mask_phone(phone.phone), phone.is_default) for phone in account.phones],
        level=LEVEL_LABELS.get(account.ial, f"Mức {account.ial}"),
        verified_by=VERIFIED_BY.get(account.verified_by, account.verified_by),
    )


@bp.route("/account/history")
def history():
    """Access history: time, IP, device, method, portal, result; 20 per page."""
    current = viewer()
    result = access_history(current.account.id, page_number(request.args.get("page")))
    return page("history.html", current, history=result)


@bp.route("/account/sessions")
def sessions():
    """Live sessions on every browser, this one marked."""
    current = viewer()
    return page("sessions.html", current,
                sessions=session_rows(current.account.id, current.session.sid))


@bp.route("/account/sessions/logout", methods=["POST"])
def logout_session():
    """End one session; its portals get a back-channel logout."""
    current = viewer()
    handle = (request.form.get("session") or "")[:64]
    this_browser = handle == services.session_handle(current.session.sid)
    ended = services.end_session_by_handle(current.account.id, handle)
    if ended and this_browser:
        return render_template("account/logged_out.html", everywhere=False)
    return redirect(url_for(".sessions", done="session_ended" if ended else None), 303)


@bp.route("/account/logout", methods=["POST"])
def logout():
    """"Đăng xuất" in the console: this browser's session ends; its portals are told."""
    current = viewer()
    services.end_session_by_handle(current.account.id,
                                   services.session_handle(current.session.sid))
    return render_template("account/logged_out.html", everywhere=False)


@bp.route("/account/sessions/logout-all", methods=["POST"])
def logout_everywhere():
    """End every session of the account, this one included; every portal is told."""
    current = viewer()
    services.end_all_sessions(current.account.id)
    return render_template("account/logged_out.html", everywhere=True)


@bp.route("/account/portals")
def portals():
    """Portals the citizen allowed to receive their data."""
    current = viewer()
    return page("portals.html", current, consents=services.consents_of(current.account),
                vietnam_time=vietnam_time)


@bp.route("/account/portals/revoke", methods=["POST"])
def revoke_portal():
    """Withdraw a portal's consent; its refresh tokens die and it must ask again."""
    current = viewer()
    services.revoke_consent(current.account, (request.form.get("client_id") or "")[:64])
    return redirect(url_for(".portals", done="consent_revoked"), 303)
