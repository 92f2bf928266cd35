"""Password + code login (level 2): the password page, the SMS or app code, consent, and
how a login ends (`outcome`), shared by every login method."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the routes; the password page is where a level-2 login starts."""
    from idp.interaction.methods import PASSWORD_SMS, offer
    from idp.login.views import bp

    app.register_blueprint(bp)
    offer(app, PASSWORD_SMS)
