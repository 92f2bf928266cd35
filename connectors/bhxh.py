"""The social insurance (BHXH) registry over JSON/HTTP (DESIGN §6).

Wire protocol, header `Authorization: Bearer <api key>`:

    GET /v1/insured/<10-digit BHXH code>
    → 200 {"bhxh_code": "0112345678", "cccd": "001090012345", "full_name": "Trần Minh Khoa",
           "birthdate": "1990-05-17", "gender": "male", "phone": "+84912345678" | null}
    → 404 {"error": "not_found"}
    → 400 {"error": "invalid_code"} for a code that is not 10 digits

The record comes back as the registry holds it (its name may differ in case,
spacing or Unicode form; compare with `vnid.person.names_equal`). A GET is
idempotent, so it is retried once after a failed connection. A 404 without the
`not_found` body (a wrong URL, a proxy page) counts as unavailable, never as
"not insured".
"""

from __future__ import annotations

import re
from typing import Any

from connectors.base import InsuredPerson
from connectors.http import (
    HttpConnector,
    MalformedAnswer,
    RegistrySettings,
    json_date,
    json_optional_str,
    json_str,
)

BHXH_CODE = re.compile(r"[0-9]{10}")


class BhxhSettings(RegistrySettings):
    """Social insurance (BHXH) registry of insured persons."""

    connector: str = "bhxh.http"
    url: str = "http://127.0.0.1:5102"
    api_key: str = "dev-bhxh-key"


class HttpInsuranceRegistry(HttpConnector):
    """InsuranceRegistry client for the BHXH gateway (or its simulator)."""

    system = "bhxh"
    settings_model = BhxhSettings

    def find_insured(self, bhxh_code: str) -> InsuredPerson | None:
        """The insured person with `bhxh_code`, or None; ValueError if not 10 digits."""
        # Checked here too because the code becomes part of the URL path.
        if not BHXH_CODE.fullmatch(bhxh_code):
            raise ValueError("a BHXH code has exactly 10 digits")
        return self.http.call(
            "find_insured", "GET", f"/v1/insured/{bhxh_code}", _parse, idempotent=True,
            accept=(200, 404),
        )


def _parse(status: int, data: dict[str, Any]) -> InsuredPerson | None:
    if status == 404:
        if data.get("error") != "not_found":
            raise MalformedAnswer("404 without error not_found")
        return None
    gender = json_str(data, "gender")
    if gender not in ("male", "female"):
        raise MalformedAnswer("gender is neither male nor female")
    return InsuredPerson(
        bhxh_code=json_str(data, "bhxh_code"),
        cccd=json_str(data, "cccd"),
        full_name=json_str(data, "full_name"),
        birthdate=json_date(data, "birthdate"),
        gender=gender,
        phone=json_optional_str(data, "phone"),
    )
