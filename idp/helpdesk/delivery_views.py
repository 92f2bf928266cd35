"""Back-channel logout deliveries still owed to portals (admin role): what is pending, what
was given up, and queueing a portal's given-up deliveries again once it is fixed."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import redirect, render_template, url_for

from idp.helpdesk.auth import current_staff, requires, staff_event
from idp.helpdesk.blueprint import bp
from idp.oidc.deliveries import backlog, retry_failed
from idp.provider import provider


@bp.route("/backchannel")
@requires("logout_deliveries")
def logout_deliveries():
    portals = backlog(provider().db.engine)
    return render_template("helpdesk/backchannel.html", portals=portals,
                           since=lambda epoch: datetime.fromtimestamp(epoch, UTC))


@bp.route("/backchannel/<client_id>/retry", methods=["POST"])
@requires("logout_deliveries")
def retry_logout_deliveries(client_id: str):
    p = provider()
    count = retry_failed(p.db.engine, client_id[:64],
                         p.settings.logout.backchannel_give_up_after)
    staff_event("staff.backchannel_retry", "success", current_staff(), "logout_deliveries",
                client_id=client_id[:64], deliveries=count)
    return redirect(url_for(".logout_deliveries"), 303)
