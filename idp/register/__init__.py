"""Online registration with the level-2 checks: mobile subscriber, BHXH, Vietnam Post; and
the last step of a registration with a certificate (USB token, SIM signature)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the registration pages and forgot-password."""
    from idp.register import certificate  # noqa: F401 - registers its route
    from idp.register.forgot import bp as forgot
    from idp.register.views import bp as register

    app.register_blueprint(register)
    app.register_blueprint(forgot)
