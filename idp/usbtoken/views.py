"""The USB-token blueprint with every route registered on it, and its start-up."""

from __future__ import annotations

from flask import Flask

from idp.interaction.methods import USB_TOKEN, offer
from idp.usbtoken import console, login, register  # noqa: F401 - modules register routes
from idp.usbtoken.verification import init_trust, usb_token_available
from idp.usbtoken.web import bp


def init_app(app: Flask) -> None:
    """Load the configured trust anchors and register the routes."""
    init_trust(app, app.extensions["idp.provider"].settings)
    app.register_blueprint(bp)
    # The login and registration pages offer the token only where it can work.
    app.add_template_global(usb_token_available)
    # Level 3 starts at the token's page, which offers the SIM signature too.
    offer(app, USB_TOKEN, usb_token_available)
