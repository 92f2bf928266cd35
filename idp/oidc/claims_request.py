"""The `claims` request parameter (OIDC Core §5.5): individual claims, for the ID token or
for userinfo, each possibly `essential` or asked with a `value` or `values`.

What is released is decided once, when the code is issued (`release`), and travels
with the grant: in the code, the access token and the refresh-token family. A claim
is released only when the client is registered for a scope that carries it; claims
it may not have, or that do not exist, are left out without an error (§5.5.1).
`acr` requested as an essential claim with values sets the minimum level like
`acr_values` does, and `sub` with a value restricts who may answer (§5.5.1.1,
§3.1.2.2). Other `value`s are the portal's expectation, not a filter: the claim is
returned with its real value and the portal compares.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from authlib.oauth2.rfc6749 import InvalidRequestError

from idp.interaction.levels import level_of
from idp.oidc.claims import SCOPES
from idp.store.models import Client

MAX_LENGTH = 4096
MEMBERS = ("userinfo", "id_token")
VERIFIED = "verified_claims"
"""OpenID Connect for Identity Assurance: its request travels inside `claims` (idp.oidc.
verified_claims reads it)."""
PROTOCOL_CLAIMS = {"sub", "acr", "amr", "auth_time"}
"""Always in the ID token; asking for them releases nothing more."""


class InvalidClaimsRequest(InvalidRequestError):
    """The `claims` parameter is not the JSON object §5.5 describes."""


@dataclass(frozen=True)
class ClaimsRequest:
    """The parsed parameter: member -> claim name -> None or {essential, value, values}."""

    userinfo: dict = field(default_factory=dict)
    id_token: dict = field(default_factory=dict)

    def essential_acr_level(self) -> int | None:
        """The lowest level among the acr values asked as essential, if any were."""
        request = self.id_token.get("acr")
        if not isinstance(request, dict) or not request.get("essential"):
            return None
        values = request.get("values") or ([request["value"]] if "value" in request else [])
        if not values:
            return None
        levels = [level_of(value) for value in values if isinstance(value, str)]
        return min((level for level in levels if level), default=0)

    def subject(self) -> str | None:
        """`sub` asked with a value: only that user may be answered for."""
        request = self.id_token.get("sub")
        value = request.get("value") if isinstance(request, dict) else None
        return value if isinstance(value, str) else None


def _check_claim(name: str, request) -> None:
    if request is None or name == VERIFIED:
        return
    if not isinstance(request, dict):
        raise InvalidClaimsRequest(f"claims: '{name}' must be null or an object.")
    if not isinstance(request.get("essential", False), bool):
        raise InvalidClaimsRequest(f"claims: '{name}'.essential must be true or false.")
    if "values" in request and not isinstance(request["values"], list):
        raise InvalidClaimsRequest(f"claims: '{name}'.values must be an array.")


def parse_claims_request(value: str | None) -> ClaimsRequest | None:
    """The `claims` parameter read and checked, or None when absent; raises invalid_request."""
    if value in (None, ""):
        return None
    if len(value) > MAX_LENGTH:
        raise InvalidClaimsRequest(f"claims: at most {MAX_LENGTH} characters.")
    try:
        data = json.loads(value)
    except ValueError:
        raise InvalidClaimsRequest("claims must be a JSON object.") from None
    if not isinstance(data, dict):
        raise InvalidClaimsRequest("claims must be a JSON object.")
    members = {}
    for member in MEMBERS:  # other members are ignored, as §5.5 asks
        requested = data.get(member)
        if requested is None:
            requested = {}
        if not isinstance(requested, dict):
            raise InvalidClaimsRequest(f"claims.{member} must be an object.")
        for name, request in requested.items():
            _check_claim(name, request)
        members[member] = requested
    return ClaimsRequest(**members)


def allowed_claims(client: Client) -> set[str]:
    """Every claim of the scopes the client is registered for."""
    return {name for scope in client.allowed_scopes if scope in SCOPES
            for name in SCOPES[scope][0]}


def release(request: ClaimsRequest | None, client: Client) -> dict | None:
    """What the grant will carry beyond its scopes: claim names per member, and the
    verified_claims requests when the client is registered for them."""
    if request is None:
        return None
    allowed = allowed_claims(client)
    released: dict = {}
    for member in MEMBERS:
        requested = getattr(request, member)
        names = sorted(name for name in requested
                       if name in allowed - PROTOCOL_CLAIMS - {VERIFIED})
        if names:
            released[member] = names
        if VERIFIED in requested and VERIFIED in client.allowed_scopes:  # OIDC4IDA §6
            released.setdefault("verified", {})[member] = {
                "request": requested[VERIFIED],
                "names": sorted(_verified_names(requested[VERIFIED]) & allowed),
            }
    return released or None


def _verified_names(request) -> set[str]:
    """The claims a verified_claims request (an object or an array of them) names."""
    items = request if isinstance(request, list) else [request]
    return {name for item in items if isinstance(item, dict)
            and isinstance(item.get("claims"), dict) for name in item["claims"]}


def userinfo_release(released: dict | None) -> dict | None:
    """The userinfo part of a release, as the access token carries it (`uc`)."""
    if not released:
        return None
    part = {}
    if released.get("userinfo"):
        part["names"] = released["userinfo"]
    verified = (released.get("verified") or {}).get("userinfo")
    if verified is not None:
        part["verified"] = verified
    return part or None


def claims_to_consent(grant) -> list[str]:
    """The claims the validated request `grant` asks for one by one, as consent lists them."""
    requested = parse_claims_request(grant.request.payload.data.get("claims"))
    return individually_released(release(requested, grant.client))


def individually_released(released: dict | None) -> list[str]:
    """The claims a grant carries beyond its scopes, for consent ("verified_claims" too)."""
    if not released:
        return []
    names = set(released.get("userinfo", [])) | set(released.get("id_token", []))
    for verified in (released.get("verified") or {}).values():
        names |= {VERIFIED, *verified["names"]}
    return sorted(names)
