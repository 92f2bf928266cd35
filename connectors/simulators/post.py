"""Simulator of Vietnam Post's registry (wire protocol in connectors/post.py).

A person counts as verified when Vietnam Post has a verified record for the
CCCD whose name (`names_equal`) and date of birth agree with the query; only
then are the record's phone and e-mail returned. The typed phone and e-mail
play no part in the decision.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify

from connectors.simulators.common import json_body, make_simulator, person_from
from connectors.simulators.fixtures import Fixtures
from vnid.person import names_equal


def create_app(fixtures: Fixtures, api_key: str, delay: float = 0.0) -> Flask:
    """The Vietnam Post gateway over the fixtures' post records."""
    records = fixtures.post_records()
    app = make_simulator(__name__, api_key, delay)

    @app.post("/v1/registrations/verify")
    def verify() -> Response:
        person = person_from(json_body())
        record = records.get(person.cccd)
        if (
            record is None
            or not record.verified
            or not names_equal(record.owner.full_name, person.full_name)
            or record.owner.birthdate != person.birthdate
        ):
            return jsonify(verified=False, phone=None, email=None)
        return jsonify(verified=True, phone=record.phone, email=record.email)

    return app
