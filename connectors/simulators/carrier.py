"""Simulator of the carriers' subscriber check (wire protocol in connectors/carrier.py).

A phone's owner is compared with the query: CCCD and date of birth exactly,
the name with `names_equal` (case, spacing and Unicode form do not matter).
"""

from __future__ import annotations

from flask import Flask, Response, abort, jsonify

from connectors.simulators.common import json_body, make_simulator, person_from, text
from connectors.simulators.fixtures import Fixtures
from vnid.person import InvalidField, names_equal, normalize_phone

_NOT_FOUND = {
    "found": False,
    "carrier": None,
    "status": "not_found",
    "match": {"cccd": False, "full_name": False, "birthdate": False},
}


def create_app(fixtures: Fixtures, api_key: str, delay: float = 0.0) -> Flask:
    """The carrier gateway over the fixtures' subscriptions."""
    subscriptions = fixtures.subscriptions()
    app = make_simulator(__name__, api_key, delay)

    @app.post("/v1/subscribers/verify")
    def verify() -> Response:
        body = json_body()
        person = person_from(body)
        try:
            phone = normalize_phone(text(body, "phone"))
        except InvalidField:
            abort(400)
        subscription = subscriptions.get(phone)
        if subscription is None:
            return jsonify(_NOT_FOUND)
        owner = subscription.owner
        return jsonify(
            found=True,
            carrier=subscription.carrier,
            status=subscription.status,
            match={
                "cccd": owner.cccd == person.cccd,
                "full_name": names_equal(owner.full_name, person.full_name),
                "birthdate": owner.birthdate == person.birthdate,
            },
        )

    return app
