"""Login interactions: the pause between a portal's authorization request and its answer.

The protocol layer stores the validated request here and hands the browser to
the login flow; the login flow records "this account, at this acr/amr, at this
time" and hands it back. Login views never touch tokens or clients.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field

from idp.provider import provider
from idp.sessions import browser_record, rotate_browser_id


@dataclass
class Authentication:
    """The result of a finished login."""

    account_id: int
    auth_time: int
    acr: str
    amr: list[str]
    sid: str


@dataclass
class Interaction:
    """One authorization request waiting for the user."""

    id: str
    browser: str
    params: dict[str, str]
    client_id: str
    client_name: str
    created: float = field(default_factory=time.time)
    pending_account_id: int | None = None
    """Set once the password step passed; the OTP step must follow."""
    authenticated: Authentication | None = None
    consented: bool = False
    return_to: str | None = None
    """For the provider's own pages (the account console): where to go after login,
    instead of answering a portal."""
    cccd_hint: str | None = None
    """The CCCD just registered or reset in this browser, to fill in the login form."""

    @property
    def key(self) -> str:
        return f"tx:{self.id}"


def start_interaction(browser: str, **kwargs) -> Interaction:
    """Create and store a new interaction bound to this browser."""
    interaction = Interaction(id=secrets.token_urlsafe(24), browser=browser, **kwargs)
    save_interaction(interaction)
    return interaction


def save_interaction(interaction: Interaction) -> None:
    """Store the interaction for the rest of its lifetime."""
    p = provider()
    remaining = interaction.created + p.settings.session.transaction_ttl - time.time()
    p.state.put(interaction.key, asdict(interaction), max(1, remaining))


def load_interaction(interaction_id: str, browser: str) -> Interaction | None:
    """The interaction, if it exists and was started in this same browser."""
    data = browser_record("tx", interaction_id, browser)
    if data is None:
        return None
    auth = data.pop("authenticated")
    interaction = Interaction(**data)
    interaction.authenticated = Authentication(**auth) if auth else None
    return interaction


def bind_to_new_browser_id(interaction: Interaction) -> None:
    """A step of this login passed (password, second factor): the browser that proved it gets
    a new id and the login follows it. A browser still holding the old id (an attacker who
    planted it before the login) can no longer answer the consent or receive the code."""
    interaction.browser = rotate_browser_id()
    save_interaction(interaction)


def end_interaction(interaction: Interaction) -> None:
    """Forget the interaction once the portal has its answer."""
    provider().state.delete(interaction.key)


def _return_key(browser: str) -> str:
    return f"login-return:{browser}"


def set_login_to_resume(interaction: Interaction) -> None:
    """The browser left this login for registration or a password reset: remember it, so
    their last page leads back to it (and to the portal that started it)."""
    p = provider()
    remaining = interaction.created + p.settings.session.transaction_ttl - time.time()
    if remaining > 1:
        p.state.put(_return_key(interaction.browser), {"tx": interaction.id}, remaining)


def login_to_resume(browser: str, cccd: str | None = None) -> Interaction | None:
    """The login this browser left for registration or a reset, if it is still alive;
    `cccd` (just registered or reset) is filled into its form."""
    record = provider().state.get(_return_key(browser))
    interaction = load_interaction(record["tx"], browser) if record else None
    if interaction is not None and cccd and interaction.cccd_hint != cccd:
        interaction.cccd_hint = cccd
        save_interaction(interaction)
    return interaction
