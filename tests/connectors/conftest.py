"""Simulators served over real HTTP on 127.0.0.1 for the registry client tests."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from connectors.simulators import SIMULATORS
from connectors.simulators.fixtures import Fixtures, load_fixtures
from connectors.simulators.serving import RunningSimulator, start

API_KEY = "test-api-key"
TIMEOUTS = (0.5, 2.0)


@pytest.fixture(scope="session")
def people() -> Fixtures:
    """The packaged fixture people."""
    return load_fixtures()


@pytest.fixture(scope="session")
def closed_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def serve(people) -> Iterator[Callable[..., RunningSimulator]]:
    """Start a simulator for this test: serve("carrier", delay=0.5); stopped afterwards."""
    running: list[RunningSimulator] = []

    def start_simulator(system: str, api_key: str = API_KEY, delay: float = 0.0):
        running.append(start(SIMULATORS[system](people, api_key, delay)))
        return running[-1]

    yield start_simulator
    for simulator in running:
        simulator.stop()
