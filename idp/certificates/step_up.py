"""A certificate login may raise a session the browser has already: the level the portal
asked for, and the account whose session is raised (its certificate must be that account's).
"""

from __future__ import annotations

from idp.interaction import Interaction
from idp.interaction.levels import level_of
from idp.oidc.authorize import check_acr_values
from idp.sessions import current_session


def requested_level(interaction: Interaction) -> int:
    """The level the portal asked for (2 when it did not say; the console asks nothing)."""
    return check_acr_values(interaction.params)


def step_up_account(interaction: Interaction) -> int | None:
    """The account whose session is being raised to the requested level, if any."""
    session = current_session()
    if session is None or level_of(session.acr) >= requested_level(interaction):
        return None
    return session.account_id
