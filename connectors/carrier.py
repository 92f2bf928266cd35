"""Mobile carriers' subscriber check over JSON/HTTP (DESIGN §6).

Wire protocol, header `Authorization: Bearer <api key>`:

    POST /v1/subscribers/verify
    {"phone": "+84912345678", "cccd": "001090012345", "full_name": "Trần Minh Khoa",
     "birthdate": "1990-05-17"}
    → 200 {"found": true, "carrier": "Viettel", "status": "active",
           "match": {"cccd": true, "full_name": true, "birthdate": true}}

`carrier` is "Viettel", "Vinaphone", "MobiFone", "Vietnamobile" or null;
`status` is "active", "suspended" or "not_found" (then found is false and every
match false). Names compare case-, spacing- and Unicode-form-insensitively. The
call is a read, so it is retried once after a failed connection; 401 means the
API key was refused.
"""

from __future__ import annotations

from typing import Any, get_args

from connectors.base import PersonQuery, SubscriberCheck, SubscriptionStatus
from connectors.http import (
    HttpConnector,
    MalformedAnswer,
    RegistrySettings,
    json_bool,
    json_optional_str,
)

_STATUSES = get_args(SubscriptionStatus)


class CarrierSettings(RegistrySettings):
    """Mobile carriers' subscriber check (registration by phone, lost-phone recovery)."""

    connector: str = "carrier.http"
    url: str = "http://127.0.0.1:5101"
    api_key: str = "dev-carrier-key"


class HttpSubscriberRegistry(HttpConnector):
    """SubscriberRegistry client for the carriers' gateway (or its simulator)."""

    system = "carrier"
    settings_model = CarrierSettings

    def check_subscriber(self, phone: str, person: PersonQuery) -> SubscriberCheck:
        """Ask who owns `phone` (E.164) and how that compares with `person`."""
        body = {
            "phone": phone,
            "cccd": person.cccd,
            "full_name": person.full_name,
            "birthdate": person.birthdate.isoformat(),
        }
        return self.http.call(
            "verify_subscriber", "POST", "/v1/subscribers/verify", _parse, body=body,
            idempotent=True,
        )


def _parse(_status: int, data: dict[str, Any]) -> SubscriberCheck:
    status = data["status"]
    if status not in _STATUSES:
        raise MalformedAnswer("unknown subscription status")
    match = data["match"]
    if not isinstance(match, dict):
        raise MalformedAnswer("match is not an object")
    return SubscriberCheck(
        found=json_bool(data, "found"),
        carrier=json_optional_str(data, "carrier"),
        status=status,
        cccd_match=json_bool(match, "cccd"),
        name_match=json_bool(match, "full_name"),
        birthdate_match=json_bool(match, "birthdate"),
    )
