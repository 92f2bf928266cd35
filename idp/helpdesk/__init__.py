"""Helpdesk console for staff (DESIGN §1): roles, password + TOTP login, audited actions
on citizen accounts, assisted registration, the auditor's log and staff administration."""

from __future__ import annotations

from flask import Blueprint


def blueprints() -> tuple[Blueprint, ...]:
    """The blueprints to register, with every view module's routes attached."""
    from idp.helpdesk import (  # noqa: F401 - importing attaches the routes
        admin_views,
        audit_views,
        counter_views,
        delivery_views,
        reset_views,
        views,
    )
    from idp.helpdesk.blueprint import bp, counter_bp

    return bp, counter_bp
