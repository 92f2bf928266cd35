"""Login methods: what each one proves (its level and RFC 8176 `amr`) and where it starts.

The authorization pipeline reads this table to send a browser to a method that reaches
the level a portal asked for; it never imports a method's package. Each method's package
offers its entry when the application is built, with the test of whether it can work
here (the USB token needs trusted root CAs; the SIM signature an MSSP as well).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app


@dataclass(frozen=True)
class LoginMethod:
    """One way to log in, as the audit trail, the tokens and the pipeline know it."""

    name: str
    """The `method` of the audit trail's login rows."""
    level: int
    amr: tuple[str, ...]
    entry: str
    """The endpoint of the page where a login with it starts (it takes `?tx=`)."""


# Password and an SMS code: possession of the phone and knowledge ("mfa").
PASSWORD_SMS = LoginMethod("pwd+sms", 2, ("pwd", "otp", "sms", "mfa"), "login.password")
# The same, the code sent to a new phone after the carrier confirmed it is the citizen's.
PASSWORD_SMS_RECOVERY = LoginMethod("pwd+sms:recovery", 2, PASSWORD_SMS.amr, "login.password")
# A password and a one-time code from an app (no "sms").
PASSWORD_TOTP = LoginMethod("pwd+totp", 2, ("pwd", "otp", "mfa"), "login.password")
# A key on a hardware token ("hwk") that is a smart card ("sc"), unlocked by its PIN
# ("pin") on the user's machine: possession and knowledge, so "mfa" too.
USB_TOKEN = LoginMethod("usb_token", 3, ("hwk", "sc", "pin", "mfa"), "usb.login")
# The SIM is a smart card ("sc") whose key the user unlocks with the SIM PIN ("pin") on the
# phone, a channel apart from the browser ("mca", multiple-channel): so "mfa" too.
SIM_SIGNATURE = LoginMethod("sim_signature", 3, ("sc", "pin", "mca", "mfa"), "sim.login")


def offer(app: Flask, method: LoginMethod, available: Callable[[], bool] = lambda: True) -> None:
    """Make `method`'s entry page one the pipeline may send a browser to, in the order
    offered, while `available()` says it can work here."""
    app.extensions.setdefault("idp.login_methods", []).append((method, available))


def entry_for(level: int) -> LoginMethod | None:
    """The first offered method that reaches `level` and can work here, if any."""
    for method, available in current_app.extensions.get("idp.login_methods", []):
        if method.level >= level and available():
            return method
    return None


def works_here(method: LoginMethod) -> bool:
    """Whether `method` is offered here and can work now."""
    return any(offered is method and available()
               for offered, available in current_app.extensions.get("idp.login_methods", []))
