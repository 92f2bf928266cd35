"""The account console: its blueprint with every route registered on it, and its start-up.

The USB-token, SIM and sharing packages add their own pages to the same blueprint
(`idp.account.web.bp`) when imported; the console imports none of them.
"""

from __future__ import annotations

from flask import Flask

from idp.account import console, lost_phone, methods, rights  # noqa: F401 - register routes
from idp.account.notice import notify_new_browser
from idp.account.web import bp
from idp.login.outcome import new_browser_login


def init_app(app: Flask) -> None:
    """Register the console, and have it tell the owner of a login from a new browser."""
    app.register_blueprint(bp)
    new_browser_login.connect(notify_new_browser)
