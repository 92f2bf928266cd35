"""Vietnam Post's registry of people it verified, over JSON/HTTP (DESIGN §6).

Wire protocol, header `Authorization: Bearer <api key>`:

    POST /v1/registrations/verify
    {"cccd": "001090012345", "full_name": "Trần Minh Khoa", "birthdate": "1990-05-17",
     "phone": "+84912345678" | null, "email": "khoa@example.vn" | null}
    → 200 {"verified": true, "phone": "+84912345678" | null, "email": "khoa@example.vn" | null}

`verified` is true when Vietnam Post checked this person (CCCD, name, date of
birth) in person; only then does it return the phone and/or e-mail it holds
(null otherwise), and activation goes to those, not to what was typed. The
call is not declared idempotent, so it is never retried.
"""

from __future__ import annotations

from typing import Any

from connectors.base import PersonQuery, PostVerification
from connectors.http import HttpConnector, RegistrySettings, json_bool, json_optional_str


class PostSettings(RegistrySettings):
    """Vietnam Post's registry of people it verified."""

    connector: str = "post.http"
    url: str = "http://127.0.0.1:5103"
    api_key: str = "dev-post-key"


class HttpPostRegistry(HttpConnector):
    """PostRegistry client for Vietnam Post's gateway (or its simulator)."""

    system = "post"
    settings_model = PostSettings

    def check_registration(
        self, person: PersonQuery, phone: str | None, email: str | None
    ) -> PostVerification:
        """Ask whether Vietnam Post verified `person`, passing the typed contacts along."""
        body = {
            "cccd": person.cccd,
            "full_name": person.full_name,
            "birthdate": person.birthdate.isoformat(),
            "phone": phone,
            "email": email,
        }
        return self.http.call(
            "verify_registration", "POST", "/v1/registrations/verify", _parse, body=body
        )


def _parse(_status: int, data: dict[str, Any]) -> PostVerification:
    return PostVerification(
        verified=json_bool(data, "verified"),
        phone=json_optional_str(data, "phone"),
        email=json_optional_str(data, "email"),
    )
