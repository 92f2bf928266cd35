"""Helpdesk console for staff (DESIGN §1): roles, password + TOTP login, audited actions
on citizen accounts, assisted registration, the auditor's log and staff administration."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the staff console and the counter, with every view module's routes."""
    from idp.helpdesk import (  # noqa: F401 - importing attaches the routes
        admin_views,
        audit_views,
        counter_views,
        delivery_views,
        reset_views,
        views,
    )
    from idp.helpdesk.blueprint import bp, counter_bp

    app.register_blueprint(bp)
    app.register_blueprint(counter_bp)
