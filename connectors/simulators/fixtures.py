"""The simulators' fixture people (fixtures/people.json) and helpers to pick them by scenario.

Each person is what a citizen would type at registration (CCCD, name, date of
birth, gender, phone, e-mail) plus what each outside system holds about them:
carrier subscriptions (each with the owner the carrier has on record), a BHXH
record, a Vietnam Post record. Records deliberately differ from the person
where the scenario says so. `scenario` holds tags such as "carrier: full match",
separated by "; ".
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from connectors.base import InsuredPerson, PersonQuery

PEOPLE_JSON = Path(__file__).with_name("fixtures") / "people.json"

SCENARIOS: dict[str, str] = {
    "all: full match": "carrier, BHXH and Vietnam Post all hold exactly this person",
    "carrier: full match": "the phone is active and registered to this person",
    "carrier: name written differently": "carrier's name differs in case/spacing/Unicode form only",
    "carrier: two subscriptions": "two active SIMs at two carriers, both registered to the person",
    "carrier: name differs": "carrier's owner has another name; CCCD and birth date agree",
    "carrier: birthdate differs": "carrier's owner has another birth date",
    "carrier: cccd differs": "carrier's owner has another CCCD",
    "carrier: phone registered to someone else": "the SIM belongs to another fixture person",
    "carrier: suspended": "registered to the person but suspended",
    "carrier: unknown phone": "no carrier knows the person's phone",
    "bhxh: full match": "BHXH record agrees, phone on file is the person's phone",
    "bhxh: no phone on file": "BHXH record agrees but holds no phone",
    "bhxh: different phone on file": "BHXH record agrees but holds another phone",
    "bhxh: name written differently": "BHXH name in NFD, upper case or odd spacing (still equal)",
    "bhxh: name differs": "BHXH record has another name",
    "bhxh: birthdate differs": "BHXH record has another birth date",
    "bhxh: cccd differs": "BHXH record has another CCCD",
    "bhxh: not insured": "no BHXH record",
    "post: verified": "verified by Vietnam Post, which holds the person's phone and e-mail",
    "post: verified, e-mail only": "verified; Vietnam Post holds only an e-mail address",
    "post: verified, phone only": "verified; Vietnam Post holds only a phone",
    "post: verified, different phone": "verified; Vietnam Post holds another phone than typed",
    "post: name written differently": "verified; Post's name differs in case only",
    "post: not verified": "Vietnam Post has a record it did not verify",
    "post: name differs": "Post's verified record has another name",
    "post: birthdate differs": "Post's verified record has another birth date",
    "post: no record": "Vietnam Post does not know the person",
}
"""Every scenario tag used in people.json and what it means."""


@dataclass(frozen=True)
class Subscription:
    """A SIM as the carrier registered it; `owner` may be someone else than who uses it."""

    phone: str
    carrier: str
    status: str
    owner: PersonQuery


@dataclass(frozen=True)
class PostRecord:
    """What Vietnam Post holds about a person it registered (verified or not)."""

    owner: PersonQuery
    verified: bool
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class FixturePerson:
    """One citizen of the fixtures and their records in the three systems."""

    id: str
    scenarios: tuple[str, ...]
    cccd: str
    full_name: str
    birthdate: date
    gender: str
    phone: str
    email: str | None
    subscriptions: tuple[Subscription, ...]
    insured: InsuredPerson | None
    post: PostRecord | None

    @property
    def query(self) -> PersonQuery:
        """The person as a registration form sends them to a registry."""
        return PersonQuery(self.cccd, self.full_name, self.birthdate)

    @property
    def bhxh_code(self) -> str | None:
        """The BHXH code to type, when the person is insured."""
        return self.insured.bhxh_code if self.insured else None

    def form(self) -> dict[str, str]:
        """The registration form fields as a citizen types them (birthdate dd/mm/yyyy)."""
        return {
            "cccd": self.cccd,
            "full_name": self.full_name,
            "birthdate": self.birthdate.strftime("%d/%m/%Y"),
            "gender": self.gender,
            "phone": self.phone,
            "email": self.email or "",
            "bhxh_code": self.bhxh_code or "",
        }


@dataclass(frozen=True)
class Fixtures:
    """All fixture people, with the lookups each simulator needs."""

    people: tuple[FixturePerson, ...]
    unknown_bhxh_codes: tuple[str, ...]
    """Well-formed codes that no record has."""
    unknown_phones: tuple[str, ...]
    """Valid mobile numbers that no carrier has."""

    def with_scenario(self, scenario: str) -> list[FixturePerson]:
        """Every person tagged `scenario`; LookupError when there is none."""
        found = [person for person in self.people if scenario in person.scenarios]
        if not found:
            raise LookupError(f"no fixture person has scenario {scenario!r}")
        return found

    def one(self, scenario: str) -> FixturePerson:
        """The first person tagged `scenario`."""
        return self.with_scenario(scenario)[0]

    def scenario_counts(self) -> Counter[str]:
        """How many people carry each scenario tag."""
        return Counter(tag for person in self.people for tag in person.scenarios)

    def subscriptions(self) -> dict[str, Subscription]:
        """Every SIM by E.164 number (the carrier simulator's database)."""
        return _unique((s.phone, s) for p in self.people for s in p.subscriptions)

    def insured(self) -> dict[str, InsuredPerson]:
        """Every BHXH record by code (the BHXH simulator's database)."""
        return _unique((p.insured.bhxh_code, p.insured) for p in self.people if p.insured)

    def post_records(self) -> dict[str, PostRecord]:
        """Every Vietnam Post record by CCCD (the Post simulator's database)."""
        return _unique((p.post.owner.cccd, p.post) for p in self.people if p.post)


def _unique(items) -> dict:
    table: dict = {}
    for key, value in items:
        if key in table:
            raise ValueError(f"fixtures hold two records for {key!r}")
        table[key] = value
    return table


def _query(data: dict[str, Any]) -> PersonQuery:
    return PersonQuery(data["cccd"], data["full_name"], date.fromisoformat(data["birthdate"]))


def _person(data: dict[str, Any]) -> FixturePerson:
    bhxh, post = data["bhxh"], data["post"]
    return FixturePerson(
        id=data["id"],
        scenarios=tuple(tag.strip() for tag in data["scenario"].split(";")),
        cccd=data["cccd"],
        full_name=data["full_name"],
        birthdate=date.fromisoformat(data["birthdate"]),
        gender=data["gender"],
        phone=data["phone"],
        email=data["email"],
        subscriptions=tuple(
            Subscription(s["phone"], s["carrier"], s["status"], _query(s["owner"]))
            for s in data["subscriptions"]
        ),
        insured=None if bhxh is None else InsuredPerson(
            bhxh_code=bhxh["bhxh_code"],
            cccd=bhxh["cccd"],
            full_name=bhxh["full_name"],
            birthdate=date.fromisoformat(bhxh["birthdate"]),
            gender=bhxh["gender"],
            phone=bhxh["phone"],
        ),
        post=None if post is None else PostRecord(
            _query(post), post["verified"], post["phone"], post["email"]
        ),
    )


def load_fixtures(path: str | Path = PEOPLE_JSON) -> Fixtures:
    """Read a people.json file (the packaged one by default)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return Fixtures(
        people=tuple(_person(person) for person in data["people"]),
        unknown_bhxh_codes=tuple(data["unknown_bhxh_codes"]),
        unknown_phones=tuple(data["unknown_phones"]),
    )
