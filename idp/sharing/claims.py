"""The claims a shared-identity credential may disclose, and how people read them.

Shared by the provider (what the citizen is shown before sharing) and by verifiers
(what a clerk is shown after checking), so both say the same thing in the same words.
"""

from __future__ import annotations

from datetime import date

from idp.interaction.levels import LEVEL_LABELS, VERIFIED_BY
from idp.oidc.claims import GENDERS, LABELS

VCT = "urn:vn:sso:vct:shared-identity:1"
"""The SD-JWT VC type (`vct`) of every credential made from a QR-code share."""

CLAIM_LABELS = {claim: LABELS[claim] for claim in (
    "name", "birthdate", "gender", "cccd", "phone_number", "email", "identity_assurance",
    "tax_code", "organization_name")}
"""Every claim a share can disclose, in the order pages list them."""


def describe(claim: str, value: object) -> str:
    """A disclosed value as a Vietnamese reader expects it (dates dd/mm/yyyy, Nam/Nữ...)."""
    if claim == "birthdate" and isinstance(value, str):
        try:
            return date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    if claim == "gender" and isinstance(value, str):
        return GENDERS.get(value, value)
    if claim == "phone_number" and isinstance(value, str) and value.startswith("+84"):
        return "0" + value[3:]  # the way the number is written on Vietnamese forms
    if claim == "identity_assurance" and isinstance(value, dict):
        level, method = value.get("level"), value.get("verified_by")
        level_text = LEVEL_LABELS.get(level, f"Mức {level}") if isinstance(level, int) else "—"
        method_text = VERIFIED_BY.get(method, method) if isinstance(method, str) else "—"
        return f"{level_text}. Cách xác minh: {method_text}"
    return str(value)


def ordered(claims: dict) -> list[tuple[str, str, str]]:
    """(claim, label, value as read) of the known claims in `claims`, in the pages' order."""
    return [(claim, label, describe(claim, claims[claim]))
            for claim, label in CLAIM_LABELS.items() if claim in claims]
