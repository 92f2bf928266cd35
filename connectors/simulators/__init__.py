"""Simulators of the outside registries: real HTTP services speaking each connector's wire
protocol over fixture data, for development, the demo and the tests (DESIGN §4, §6).

Start them with ``python -m connectors.simulators all`` (see __main__.py), or in
a test with ``start(create_app(...))`` from `connectors.simulators.serving`.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from connectors.simulators import bhxh, carrier, mssp, post
from connectors.simulators.fixtures import Fixtures

AppFactory = Callable[[Fixtures, str, float], Flask]

SIMULATORS: dict[str, AppFactory] = {
    "carrier": carrier.create_app,
    "bhxh": bhxh.create_app,
    "post": post.create_app,
    "mssp": mssp.create_app,
}
"""`create_app(fixtures, api_key, delay)` of each simulator, by system name."""

DEFAULT_PORTS = {"carrier": 5101, "bhxh": 5102, "post": 5103, "mssp": 5104}
"""Where `idp.config.Settings` looks for each system by default."""

DEFAULT_API_KEYS = {"carrier": "dev-carrier-key", "bhxh": "dev-bhxh-key", "post": "dev-post-key",
                    "mssp": "dev-mssp-key"}
"""The development API keys that `idp.config.Settings` sends by default."""
