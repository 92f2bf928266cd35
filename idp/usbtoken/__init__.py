"""Level-3 login, registration and step-up with a USB signing token (DESIGN §3, §6).

The page gets a one-time challenge here, the local signing agent on the user's machine
signs hash(origin) ‖ hash(challenge) with the token after the user's PIN, and the page
posts the certificate and signature back. `idp.certificates` checks them and binds
certificates to accounts; `web.bp` holds the routes.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the routes (after `idp.certificates.init_app`, whose trust anchors they use;
    the console's pages join the account console: call before `idp.account.init_app`)."""
    from idp.interaction.methods import USB_TOKEN, offer
    from idp.usbtoken import console, login, register  # noqa: F401 - modules register routes
    from idp.usbtoken.web import bp, usb_token_available

    app.register_blueprint(bp)
    # The login and registration pages offer the token only where it can work.
    app.add_template_global(usb_token_available)
    # Level 3 starts at the token's page, which offers the SIM signature too.
    offer(app, USB_TOKEN, usb_token_available)
