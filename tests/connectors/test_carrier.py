"""The carrier client against the carrier simulator over HTTP, plus its settings and logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from connectors.carrier import HttpSubscriberRegistry
from connectors.registry import connector_settings, load_connector
from connectors.testing import SubscriberRegistryContract
from tests.connectors.conftest import API_KEY, TIMEOUTS


@pytest.fixture(scope="module")
def carrier_url(people):
    from connectors.simulators import carrier
    from connectors.simulators.serving import start

    with start(carrier.create_app(people, API_KEY)) as simulator:
        yield simulator.url


class TestHttpSubscriberRegistry(SubscriberRegistryContract):
    @pytest.fixture
    def fixtures(self, people):
        return people

    @pytest.fixture
    def registry(self, carrier_url):
        return HttpSubscriberRegistry(carrier_url, API_KEY, TIMEOUTS)

    @pytest.fixture
    def unavailable_registry(self, closed_url):
        return HttpSubscriberRegistry(closed_url, API_KEY, TIMEOUTS)


def test_built_from_settings_through_the_entry_point(carrier_url, people):
    section = connector_settings({
        "connector": "carrier.http", "url": carrier_url + "/", "api_key": API_KEY,
        "connect_timeout": 0.7, "read_timeout": 1.5,
    })
    registry = load_connector(section.connector).from_settings(section, Path("."))
    assert isinstance(registry, HttpSubscriberRegistry)
    assert registry.http.timeouts == (0.7, 1.5)
    person = people.one("all: full match")
    assert registry.check_subscriber(person.phone, person.query).registered_to_person


def test_each_call_is_logged_with_latency_and_no_personal_data(carrier_url, people, caplog):
    person = people.one("carrier: full match")
    caplog.set_level(logging.INFO, logger="connectors")
    HttpSubscriberRegistry(carrier_url, API_KEY, TIMEOUTS).check_subscriber(
        person.phone, person.query
    )
    [record] = [r for r in caplog.records if r.name == "connectors"]
    assert (record.connector, record.operation, record.status) == (
        "carrier", "verify_subscriber", 200
    )
    assert isinstance(record.ms, int) and record.ms >= 0
    text = record.getMessage()
    assert "ms=" in text
    assert person.cccd not in text and person.phone not in text


def test_a_failed_connection_is_retried_once_for_this_read(closed_url, people, caplog):
    person = people.one("carrier: full match")
    caplog.set_level(logging.INFO, logger="connectors")
    with pytest.raises(Exception, match="gave no answer"):
        HttpSubscriberRegistry(closed_url, API_KEY, TIMEOUTS).check_subscriber(
            person.phone, person.query
        )
    messages = [r.getMessage() for r in caplog.records if r.name == "connectors"]
    assert sum("retrying once" in m for m in messages) == 1
    assert caplog.records[-1].levelno == logging.WARNING
    assert caplog.records[-1].status == "ConnectionError"
