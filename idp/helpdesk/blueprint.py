"""The staff console's blueprint (/helpdesk) and the citizen's activation page (/counter)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("helpdesk", __name__, url_prefix="/helpdesk")
"""Staff only: every view but the login requires a staff session."""

counter_bp = Blueprint("counter", __name__, url_prefix="/counter")
"""Citizens: the one-time link from an assisted registration; no staff session here."""


def form_field(form, name: str, limit: int) -> str:
    """A trimmed form value, cut to `limit` characters (longer input is never stored)."""
    return (form.get(name) or "").strip()[:limit]
