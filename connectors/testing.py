"""Contract tests every implementation of a registry Protocol must pass.

Subclass a contract in a test module named Test..., and provide three pytest
fixtures: `registry` (the implementation, answering for the fixture people),
`fixtures` (`connectors.simulators.fixtures.Fixtures`) and `unavailable_registry`
(the same implementation pointed at a system that does not answer). Needs pytest.
"""

from __future__ import annotations

import pytest

from connectors.base import (
    ConnectorUnavailable,
    InsuranceRegistry,
    PersonQuery,
    PostRegistry,
    SubscriberRegistry,
)
from connectors.simulators.fixtures import Fixtures
from vnid.person import names_equal

CARRIERS = {"Viettel", "Vinaphone", "MobiFone", "Vietnamobile"}


class _Contract:
    @pytest.fixture
    def fixtures(self) -> Fixtures:
        raise NotImplementedError("provide the fixture people the registry answers for")


class SubscriberRegistryContract(_Contract):
    """What every SubscriberRegistry does with the fixture people."""

    @pytest.fixture
    def registry(self) -> SubscriberRegistry:
        raise NotImplementedError("provide the SubscriberRegistry under test")

    @pytest.fixture
    def unavailable_registry(self) -> SubscriberRegistry:
        raise NotImplementedError("provide the SubscriberRegistry with its system down")

    def _check(self, registry: SubscriberRegistry, fixtures: Fixtures, scenario: str):
        return [
            (person, registry.check_subscriber(person.phone, person.query))
            for person in fixtures.with_scenario(scenario)
        ]

    @pytest.mark.parametrize(
        "scenario", ["carrier: full match", "carrier: name written differently"]
    )
    def test_registered_to_the_person(self, registry, fixtures, scenario):
        for _person, check in self._check(registry, fixtures, scenario):
            assert check.registered_to_person
            assert (check.found, check.status) == (True, "active")
            assert check.carrier in CARRIERS

    def test_every_subscription_of_a_person_is_theirs(self, registry, fixtures):
        person = fixtures.one("carrier: two subscriptions")
        checks = [registry.check_subscriber(s.phone, person.query) for s in person.subscriptions]
        assert len(checks) == 2 and all(check.registered_to_person for check in checks)
        assert len({check.carrier for check in checks}) == 2

    @pytest.mark.parametrize(
        ("scenario", "field"),
        [("carrier: name differs", "name_match"), ("carrier: birthdate differs", "birthdate_match"),
         ("carrier: cccd differs", "cccd_match")],
    )
    def test_one_field_differs(self, registry, fixtures, scenario, field):
        for _person, check in self._check(registry, fixtures, scenario):
            fields = ("cccd_match", "name_match", "birthdate_match")
            assert {f: getattr(check, f) for f in fields} == {f: f != field for f in fields}
            assert check.found and check.status == "active"
            assert not check.registered_to_person

    def test_phone_registered_to_someone_else(self, registry, fixtures):
        scenario = "carrier: phone registered to someone else"
        for person, check in self._check(registry, fixtures, scenario):
            owner = next(p for p in fixtures.people if p.query == person.subscriptions[0].owner)
            assert check.found and not (check.cccd_match or check.name_match)
            assert not check.registered_to_person
            assert registry.check_subscriber(person.phone, owner.query).registered_to_person

    def test_suspended_subscription_is_not_registered_to_the_person(self, registry, fixtures):
        for _person, check in self._check(registry, fixtures, "carrier: suspended"):
            assert check.found and check.status == "suspended"
            assert check.cccd_match and check.name_match and check.birthdate_match
            assert not check.registered_to_person

    def test_unknown_phone(self, registry, fixtures):
        people = fixtures.with_scenario("carrier: unknown phone")
        phones = [p.phone for p in people] + list(fixtures.unknown_phones)
        for phone in phones:
            check = registry.check_subscriber(phone, people[0].query)
            assert (check.found, check.carrier, check.status) == (False, None, "not_found")
            assert not (check.cccd_match or check.name_match or check.birthdate_match)

    def test_unavailable_system_raises(self, unavailable_registry, fixtures):
        person = fixtures.one("carrier: full match")
        with pytest.raises(ConnectorUnavailable) as raised:
            unavailable_registry.check_subscriber(person.phone, person.query)
        assert person.cccd not in str(raised.value) and person.phone not in str(raised.value)


class InsuranceRegistryContract(_Contract):
    """What every InsuranceRegistry does with the fixture people."""

    @pytest.fixture
    def registry(self) -> InsuranceRegistry:
        raise NotImplementedError("provide the InsuranceRegistry under test")

    @pytest.fixture
    def unavailable_registry(self) -> InsuranceRegistry:
        raise NotImplementedError("provide the InsuranceRegistry with its system down")

    def test_every_record_comes_back_as_held(self, registry, fixtures):
        for person in fixtures.people:
            if person.insured is not None:
                assert registry.find_insured(person.insured.bhxh_code) == person.insured

    @pytest.mark.parametrize(
        "scenario", ["bhxh: full match", "bhxh: no phone on file", "bhxh: different phone on file",
                     "bhxh: name written differently"],
    )
    def test_record_matches_what_the_person_types(self, registry, fixtures, scenario):
        for person in fixtures.with_scenario(scenario):
            record = registry.find_insured(person.bhxh_code)
            assert record is not None and record.cccd == person.cccd
            assert names_equal(record.full_name, person.full_name)
            assert (record.birthdate, record.gender) == (person.birthdate, person.gender)

    def test_phone_on_file(self, registry, fixtures):
        def phone_of(scenario: str) -> list[tuple[str | None, str]]:
            people = fixtures.with_scenario(scenario)
            return [(registry.find_insured(p.bhxh_code).phone, p.phone) for p in people]

        assert all(held == typed for held, typed in phone_of("bhxh: full match"))
        assert all(held is None for held, _ in phone_of("bhxh: no phone on file"))
        different = phone_of("bhxh: different phone on file")
        assert all(held and held != typed for held, typed in different)

    def test_name_written_differently_is_stored_differently(self, registry, fixtures):
        for person in fixtures.with_scenario("bhxh: name written differently"):
            assert registry.find_insured(person.bhxh_code).full_name != person.full_name

    @pytest.mark.parametrize(
        ("scenario", "differs"),
        [("bhxh: name differs", "full_name"), ("bhxh: birthdate differs", "birthdate"),
         ("bhxh: cccd differs", "cccd")],
    )
    def test_record_differs_from_what_the_person_types(self, registry, fixtures, scenario, differs):
        for person in fixtures.with_scenario(scenario):
            record = registry.find_insured(person.bhxh_code)
            same = {
                "cccd": record.cccd == person.cccd,
                "full_name": names_equal(record.full_name, person.full_name),
                "birthdate": record.birthdate == person.birthdate,
            }
            assert same == {field: field != differs for field in same}

    def test_unknown_code_is_none(self, registry, fixtures):
        for code in fixtures.unknown_bhxh_codes:
            assert registry.find_insured(code) is None

    @pytest.mark.parametrize("code", ["", "123456789", "12345678901", "01234567ab", "../v1/x"])
    def test_malformed_code_is_refused(self, registry, code):
        with pytest.raises(ValueError):
            registry.find_insured(code)

    def test_unavailable_system_raises(self, unavailable_registry, fixtures):
        with pytest.raises(ConnectorUnavailable) as raised:
            unavailable_registry.find_insured(fixtures.one("bhxh: full match").bhxh_code)
        assert fixtures.one("bhxh: full match").bhxh_code not in str(raised.value)


class PostRegistryContract(_Contract):
    """What every PostRegistry does with the fixture people."""

    @pytest.fixture
    def registry(self) -> PostRegistry:
        raise NotImplementedError("provide the PostRegistry under test")

    @pytest.fixture
    def unavailable_registry(self) -> PostRegistry:
        raise NotImplementedError("provide the PostRegistry with its system down")

    @pytest.mark.parametrize(
        "scenario", ["post: verified", "post: verified, e-mail only", "post: verified, phone only",
                     "post: verified, different phone", "post: name written differently"],
    )
    def test_verified_person_gets_the_contacts_post_holds(self, registry, fixtures, scenario):
        for person in fixtures.with_scenario(scenario):
            answer = registry.check_registration(person.query, person.phone, person.email)
            assert answer.verified
            assert (answer.phone, answer.email) == (person.post.phone, person.post.email)
            assert answer.phone or answer.email

    def test_contacts_by_scenario(self, registry, fixtures):
        def answer(scenario: str):
            person = fixtures.one(scenario)
            return person, registry.check_registration(person.query, person.phone, person.email)

        person, full = answer("post: verified")
        assert (full.phone, full.email) == (person.phone, person.email)
        _, email_only = answer("post: verified, e-mail only")
        assert email_only.phone is None and email_only.email
        _, phone_only = answer("post: verified, phone only")
        assert phone_only.phone and phone_only.email is None
        person, other = answer("post: verified, different phone")
        assert other.phone and other.phone != person.phone

    @pytest.mark.parametrize(
        "scenario", ["post: not verified", "post: name differs", "post: birthdate differs",
                     "post: no record"],
    )
    def test_not_verified_reveals_no_contact(self, registry, fixtures, scenario):
        for person in fixtures.with_scenario(scenario):
            answer = registry.check_registration(person.query, person.phone, person.email)
            assert (answer.verified, answer.phone, answer.email) == (False, None, None)

    def test_someone_elses_cccd_is_not_verified(self, registry, fixtures):
        verified, stranger = fixtures.one("post: verified"), fixtures.one("post: no record")
        query = PersonQuery(verified.cccd, stranger.full_name, stranger.birthdate)
        assert not registry.check_registration(query, stranger.phone, None).verified

    def test_unavailable_system_raises(self, unavailable_registry, fixtures):
        person = fixtures.one("post: verified")
        with pytest.raises(ConnectorUnavailable):
            unavailable_registry.check_registration(person.query, person.phone, person.email)
