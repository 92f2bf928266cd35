"""The Vietnam Post client against the Post simulator over HTTP."""

from __future__ import annotations

import logging

import pytest

from connectors.base import ConnectorUnavailable
from connectors.post import HttpPostRegistry
from connectors.registry import load_connector
from connectors.testing import PostRegistryContract
from tests.connectors.conftest import API_KEY, TIMEOUTS


@pytest.fixture(scope="module")
def post_url(people):
    from connectors.simulators import post
    from connectors.simulators.serving import start

    with start(post.create_app(people, API_KEY)) as simulator:
        yield simulator.url


class TestHttpPostRegistry(PostRegistryContract):
    @pytest.fixture
    def fixtures(self, people):
        return people

    @pytest.fixture
    def registry(self, post_url):
        return HttpPostRegistry(post_url, API_KEY, TIMEOUTS)

    @pytest.fixture
    def unavailable_registry(self, closed_url):
        return HttpPostRegistry(closed_url, API_KEY, TIMEOUTS)


def test_registered_under_its_entry_point_name():
    assert load_connector("post.http") is HttpPostRegistry


def test_typed_contacts_are_optional(post_url, people):
    person = people.one("post: verified, e-mail only")
    answer = HttpPostRegistry(post_url, API_KEY, TIMEOUTS).check_registration(
        person.query, None, None
    )
    assert answer.verified and answer.email == person.post.email


def test_verification_is_never_retried(closed_url, people, caplog):
    person = people.one("post: verified")
    caplog.set_level(logging.INFO, logger="connectors")
    with pytest.raises(ConnectorUnavailable):
        HttpPostRegistry(closed_url, API_KEY, TIMEOUTS).check_registration(
            person.query, person.phone, person.email
        )
    assert not any("retrying" in r.getMessage() for r in caplog.records)
