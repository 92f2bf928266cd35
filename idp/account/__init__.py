"""The citizen's own console (/account) and the self-service recovery of a lost OTP phone.

`web.bp` is the blueprint, which the USB-token, SIM and sharing packages add their own
pages to; the rules live in `services`, `history`, `totp` and `recovery`, which tests
call without HTTP.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the console (after the packages that add pages to it), and have it tell
    the owner of a login from a new browser."""
    from idp.account import console, lost_phone, methods, rights  # noqa: F401 - routes
    from idp.account.notice import notify_new_browser
    from idp.account.web import bp
    from idp.login.outcome import new_browser_login

    app.register_blueprint(bp)
    new_browser_login.connect(notify_new_browser)
