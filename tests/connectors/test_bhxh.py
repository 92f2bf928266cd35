"""The BHXH client against the BHXH simulator over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.bhxh import HttpInsuranceRegistry
from connectors.registry import connector_settings, load_connector
from connectors.testing import InsuranceRegistryContract
from tests.connectors.conftest import API_KEY, TIMEOUTS


@pytest.fixture(scope="module")
def bhxh_url(people):
    from connectors.simulators import bhxh
    from connectors.simulators.serving import start

    with start(bhxh.create_app(people, API_KEY)) as simulator:
        yield simulator.url


class TestHttpInsuranceRegistry(InsuranceRegistryContract):
    @pytest.fixture
    def fixtures(self, people):
        return people

    @pytest.fixture
    def registry(self, bhxh_url):
        return HttpInsuranceRegistry(bhxh_url, API_KEY, TIMEOUTS)

    @pytest.fixture
    def unavailable_registry(self, closed_url):
        return HttpInsuranceRegistry(closed_url, API_KEY, TIMEOUTS)


def test_default_settings_point_at_the_development_simulator():
    section = connector_settings({"connector": "bhxh.http"})
    registry = load_connector("bhxh.http").from_settings(section, Path("."))
    assert isinstance(registry, HttpInsuranceRegistry)
    assert registry.http.base_url == "http://127.0.0.1:5102"
    assert registry.http.session.headers["Authorization"] == "Bearer dev-bhxh-key"
    assert registry.http.timeouts == (2.0, 5.0)


def test_record_repr_hides_identifiers(bhxh_url, people):
    person = people.one("bhxh: full match")
    record = HttpInsuranceRegistry(bhxh_url, API_KEY, TIMEOUTS).find_insured(person.bhxh_code)
    for secret in (person.cccd, person.phone, person.bhxh_code, person.full_name):
        assert secret not in repr(record)
