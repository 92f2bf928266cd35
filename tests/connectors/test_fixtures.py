"""The fixture people are valid and cover every scenario the registration flows need."""

from __future__ import annotations

import unicodedata

from connectors.simulators.fixtures import SCENARIOS
from connectors.testing import CARRIERS
from vnid.person import (
    names_equal,
    normalize_email,
    normalize_name,
    normalize_phone,
    validate_cccd,
)

# Scenarios the flows and the contract suites exercise more than once.
AT_LEAST_TWO = [tag for tag in SCENARIOS if tag not in {
    "carrier: two subscriptions", "bhxh: cccd differs", "post: name written differently",
    "post: name differs", "post: birthdate differs", "post: verified, different phone",
}]


def test_at_least_fifty_distinct_people(people):
    assert len(people.people) >= 50
    assert len({p.id for p in people.people}) == len(people.people)
    assert len({p.cccd for p in people.people}) == len(people.people)
    assert {p.gender for p in people.people} == {"male", "female"}
    assert any(p.birthdate.year >= 2000 for p in people.people)


def test_every_scenario_is_known_and_covered(people):
    counts = people.scenario_counts()
    assert set(counts) == set(SCENARIOS)
    assert all(counts[tag] >= 2 for tag in AT_LEAST_TWO), counts
    assert counts["all: full match"] >= 4
    assert counts["carrier: full match"] >= 10


def test_every_cccd_is_valid(people):
    for person in people.people:
        assert validate_cccd(person.cccd, person.birthdate, person.gender) == person.cccd
        records = [s.owner.cccd for s in person.subscriptions]
        records += [r.cccd for r in (person.insured, person.post and person.post.owner) if r]
        for cccd in records:
            assert validate_cccd(cccd) == cccd


def test_every_phone_is_a_valid_mobile_in_e164(people):
    phones = list(people.unknown_phones)
    for person in people.people:
        phones += [person.phone] + [s.phone for s in person.subscriptions]
        phones += [person.insured.phone] if person.insured and person.insured.phone else []
        phones += [person.post.phone] if person.post and person.post.phone else []
    assert all(normalize_phone(phone) == phone for phone in phones)


def test_names_and_emails_are_what_a_form_accepts(people):
    for person in people.people:
        assert normalize_name(person.full_name) == person.full_name
        if person.email:
            assert normalize_email(person.email) == person.email
        if person.post and person.post.email:
            assert normalize_email(person.post.email) == person.post.email
    accented = [p for p in people.people if not p.full_name.isascii()]
    assert len(accented) == len(people.people)


def test_records_are_unique_and_unknowns_are_unknown(people):
    subscriptions, insured = people.subscriptions(), people.insured()
    people.post_records()
    assert {s.carrier for s in subscriptions.values()} >= CARRIERS
    assert {s.status for s in subscriptions.values()} == {"active", "suspended"}
    assert not set(people.unknown_phones) & set(subscriptions)
    codes = [*insured, *people.unknown_bhxh_codes]
    assert all(len(code) == 10 and code.isdigit() for code in codes)
    assert not set(people.unknown_bhxh_codes) & set(insured)
    for person in people.with_scenario("carrier: unknown phone"):
        assert person.phone not in subscriptions


def test_someone_elses_phone_belongs_to_another_fixture_person(people):
    owners = {p.query: p for p in people.people}
    for person in people.with_scenario("carrier: phone registered to someone else"):
        owner = owners[person.subscriptions[0].owner]
        assert owner.cccd != person.cccd and owner.phone != person.phone


def test_names_written_differently_cover_case_spacing_and_unicode_form(people):
    stored = [p.insured.full_name for p in people.with_scenario("bhxh: name written differently")]
    stored += [s.owner.full_name for p in people.with_scenario("carrier: name written differently")
               for s in p.subscriptions]
    assert any(unicodedata.normalize("NFC", name) != name for name in stored)
    assert any(name.isupper() for name in stored)
    assert any("  " in name or name != name.strip() for name in stored)
    for person in people.with_scenario("bhxh: name differs"):
        assert not names_equal(person.insured.full_name, person.full_name)


def test_people_are_found_by_scenario(people):
    person = people.one("bhxh: not insured")
    assert person.insured is None and person.bhxh_code is None
    form = people.one("all: full match").form()
    assert form["birthdate"].count("/") == 2 and len(form["bhxh_code"]) == 10
