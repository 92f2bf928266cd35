"""Every registry client turns a refused key, a stopped, slow or broken system into
ConnectorUnavailable, quickly, with a Vietnamese message for the citizen."""

from __future__ import annotations

import logging
import time

import pytest
import requests
from flask import Flask

from connectors.base import ConnectorUnavailable
from connectors.bhxh import HttpInsuranceRegistry
from connectors.carrier import HttpSubscriberRegistry
from connectors.post import HttpPostRegistry
from connectors.simulators.serving import start
from tests.connectors.conftest import API_KEY, TIMEOUTS

CLIENTS = {
    "carrier": HttpSubscriberRegistry,
    "bhxh": HttpInsuranceRegistry,
    "post": HttpPostRegistry,
}
SYSTEMS = list(CLIENTS)


def ask(system: str, url: str, people, api_key: str = API_KEY, timeouts=TIMEOUTS):
    """One typical call of `system`'s client for a fully matching person."""
    person = people.one("all: full match")
    client = CLIENTS[system](url, api_key, timeouts)
    if system == "carrier":
        return client.check_subscriber(person.phone, person.query)
    if system == "bhxh":
        return client.find_insured(person.bhxh_code)
    return client.check_registration(person.query, person.phone, person.email)


@pytest.mark.parametrize("system", SYSTEMS)
def test_wrong_api_key_is_an_operator_problem(serve, people, system):
    simulator = serve(system)
    assert ask(system, simulator.url, people) is not None
    with pytest.raises(ConnectorUnavailable, match="refused the API key") as raised:
        ask(system, simulator.url, people, api_key="wrong-key")
    assert raised.value.system == system
    assert "thử lại" in raised.value.user_message


@pytest.mark.parametrize("system", SYSTEMS)
def test_stopped_simulator_fails_fast(serve, people, system):
    simulator = serve(system)
    ask(system, simulator.url, people)  # leaves a kept-alive connection in the pool
    simulator.stop()
    started = time.monotonic()
    with pytest.raises(ConnectorUnavailable, match="gave no answer"):
        ask(system, simulator.url, people)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("system", SYSTEMS)
def test_slow_simulator_times_out_at_the_read_timeout(serve, people, system):
    simulator = serve(system)
    set_delay = requests.post(
        simulator.url + "/_control/delay", json={"seconds": 2.0},
        headers={"Authorization": f"Bearer {API_KEY}"}, timeout=2,
    )
    assert set_delay.json() == {"seconds": 2.0}
    started = time.monotonic()
    with pytest.raises(ConnectorUnavailable, match="ReadTimeout"):
        ask(system, simulator.url, people, timeouts=(0.5, 0.3))
    assert 0.3 <= time.monotonic() - started < 1.0


def test_a_delay_within_the_timeout_is_waited_for(serve, people):
    simulator = serve("bhxh", delay=0.3)
    started = time.monotonic()
    assert ask("bhxh", simulator.url, people, timeouts=(0.5, 2.0)) is not None
    assert time.monotonic() - started >= 0.3


def _broken_system(status: int, body: str, content_type: str = "application/json") -> Flask:
    app = Flask(__name__)

    @app.route("/<path:_path>", methods=["GET", "POST"])
    def answer(_path):
        return body, status, {"Content-Type": content_type}

    return app


BROKEN = [
    (500, '{"error": "internal"}', "application/json"),
    (503, "<html>Service Unavailable</html>", "text/html"),
    (200, "<html>login</html>", "text/html"),
    (200, "[1, 2]", "application/json"),
    (200, "{}", "application/json"),
    (200, '{"found": "yes", "verified": 1, "bhxh_code": 12}', "application/json"),
    (404, "<html>Not Found</html>", "text/html"),
    (400, '{"error": "bad_request"}', "application/json"),
]


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize(("status", "body", "content_type"), BROKEN)
def test_errors_and_garbage_are_unavailable(people, caplog, system, status, body, content_type):
    caplog.set_level(logging.INFO, logger="connectors")
    with start(_broken_system(status, body, content_type)) as broken:
        with pytest.raises(ConnectorUnavailable) as raised:
            ask(system, broken.url, people)
    person = people.one("all: full match")
    assert person.cccd not in str(raised.value) and person.bhxh_code not in str(raised.value)
    [record] = [r for r in caplog.records if r.name == "connectors"]
    assert record.levelno == logging.WARNING and record.status in (status, "malformed")


def test_wrong_types_inside_an_answer_are_garbage(people):
    carrier = '{"found": true, "carrier": "Viettel", "status": "lost", "match": {}}'
    bhxh = ('{"bhxh_code": "0101010101", "cccd": "001090000001", "full_name": "A B",'
            ' "birthdate": "1990/01/01", "gender": "male", "phone": null}')
    for system, body in (("carrier", carrier), ("bhxh", bhxh)):
        with start(_broken_system(200, body)) as broken:
            with pytest.raises(ConnectorUnavailable, match="malformed"):
                ask(system, broken.url, people)


def test_unconfigured_url_is_unavailable(people):
    with pytest.raises(ConnectorUnavailable):
        ask("carrier", "", people)


def test_user_message_names_the_system():
    assert "Bảo hiểm xã hội" in ConnectorUnavailable("x", system="bhxh").user_message
    assert "Bưu điện" in ConnectorUnavailable("x", system="post").user_message
    assert "nhà mạng" in ConnectorUnavailable("x", system="carrier").user_message
    assert "Vui lòng thử lại" in ConnectorUnavailable("x").user_message
