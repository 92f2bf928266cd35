"""Simulator of the BHXH registry (wire protocol in connectors/bhxh.py).

Records are returned exactly as the fixtures hold them, names included
(some are in another case, spacing or Unicode form on purpose).
"""

from __future__ import annotations

import re

from flask import Flask, Response, jsonify

from connectors.simulators.common import make_simulator
from connectors.simulators.fixtures import Fixtures

_CODE = re.compile(r"[0-9]{10}")


def create_app(fixtures: Fixtures, api_key: str, delay: float = 0.0) -> Flask:
    """The BHXH gateway over the fixtures' insured persons."""
    insured = fixtures.insured()
    app = make_simulator(__name__, api_key, delay)

    @app.get("/v1/insured/<code>")
    def find(code: str) -> Response | tuple[Response, int]:
        if not _CODE.fullmatch(code):
            return jsonify(error="invalid_code"), 400
        record = insured.get(code)
        if record is None:
            return jsonify(error="not_found"), 404
        return jsonify(
            bhxh_code=record.bhxh_code,
            cccd=record.cccd,
            full_name=record.full_name,
            birthdate=record.birthdate.isoformat(),
            gender=record.gender,
            phone=record.phone,
        )

    return app
