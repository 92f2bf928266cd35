"""idp/interaction/__init__.py: the pause between a portal's request and its answer, kept
in the state store and bound to the browser that started it."""

from __future__ import annotations

import pytest

from idp.interaction import (
    bind_to_new_browser_id,
    load_interaction,
    login_to_resume,
    set_login_to_resume,
    start_interaction,
)

BROWSER = "browser-of-the-citizen-0000000000"
OTHER_BROWSER = "browser-of-somebody-else-00000000"


def start(**kwargs):
    return start_interaction(BROWSER, params={"scope": "openid"}, client_id="portal-a",
                             client_name="Cổng A", **kwargs)


def test_an_interaction_is_found_only_from_the_browser_that_started_it(provider):
    interaction = start()
    assert load_interaction(interaction.id, BROWSER).client_id == "portal-a"
    assert load_interaction(interaction.id, OTHER_BROWSER) is None


def test_an_interaction_lives_as_long_as_a_login_may_take_from_its_start(provider):
    interaction = start()
    expires = provider.state.expires_at(interaction.key)
    assert expires == pytest.approx(
        interaction.created + provider.settings.session.transaction_ttl, abs=2)


def test_a_passed_step_moves_the_interaction_to_a_new_browser_id(provider):
    interaction = start()
    bind_to_new_browser_id(interaction)
    assert interaction.browser != BROWSER
    assert load_interaction(interaction.id, BROWSER) is None
    assert load_interaction(interaction.id, interaction.browser) is not None


def test_a_login_left_for_registration_is_resumed_in_the_same_browser_with_the_new_cccd(
        provider):
    interaction = start()
    set_login_to_resume(interaction)
    assert login_to_resume(OTHER_BROWSER, "001085000123") is None
    resumed = login_to_resume(BROWSER, "001085000123")
    assert resumed.id == interaction.id
    assert load_interaction(interaction.id, BROWSER).cccd_hint == "001085000123"
