"""OpenID Connect for Identity Assurance 1.0: `verified_claims`, the claims together with
how they were verified, under this service's trust framework `vn_sso`
(docs/identity-assurance.md describes it for relying parties).

An account's evidence is what its checks left: a carrier, BHXH or Vietnam Post record
(`electronic_record`), a counter registration (`document`: the card the staff member
inspected at the office) and the certificates bound to it (`electronic_signature`:
issuer, serial number, validity). Released with the `verified_claims` scope (every
verified claim the other granted scopes carry, everything about the verification) or
by a `verified_claims` request in `claims` (only what it names, of what the client is
registered for), never otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime

from idp.oidc.claims import claim_values
from idp.store.models import Account

TRUST_FRAMEWORK = "vn_sso"
ASSURANCE_LEVELS = {2: "ial2", 3: "ial3"}
VERIFIABLE = ("name", "birthdate", "gender", "cccd", "tax_code", "organization_name",
              "budget_code")
"""Claims a check of the person vouches for (phone and e-mail are proven by OTP, not by it)."""
EVIDENCE_TYPES = ["electronic_record", "document", "electronic_signature"]
ELECTRONIC_RECORDS = {
    # verified_by -> (record type, who keeps the record)
    "carrier": ("mobile_subscriber_record", "Nhà mạng di động"),
    "bhxh": ("social_insurance_record", "Bảo hiểm xã hội Việt Nam"),
    "post": ("postal_verification_record", "Tổng công ty Bưu điện Việt Nam"),
}
DOCUMENTS = {"cccd": "idcard", "cmnd": "idcard", "passport": "passport"}
SIGNATURE_TYPES = {"usb": "usb_token_certificate", "sim": "sim_certificate"}


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def evidence_of(account: Account) -> list[dict]:
    """The account's evidence, oldest first, in OIDC4IDA §5.4.4 terms."""
    evidence = []
    for row in account.evidence:
        if row.method in ELECTRONIC_RECORDS:
            record_type, keeper = ELECTRONIC_RECORDS[row.method]
            evidence.append({
                "type": "electronic_record",
                "check_details": [{"check_method": "data", "organization": keeper,
                                   "time": _time(row.checked_at)}],
                "time": _time(row.checked_at),
                "record": {"type": record_type, "source": {"name": keeper}},
            })
        elif row.method == "counter":
            check = {"check_method": "vpip", "time": _time(row.checked_at)}
            if row.organization:
                check["organization"] = row.organization
            if row.staff:
                check["txn"] = f"staff:{row.staff}"
            evidence.append({
                "type": "document",
                "check_details": [check],
                "time": _time(row.checked_at),
                "document_details": {"type": DOCUMENTS.get(row.document or "", "idcard")},
            })
    for certificate in account.certificates:
        if certificate.removed_at is not None:
            continue
        signature = {
            "type": "electronic_signature",
            "signature_type": SIGNATURE_TYPES.get(certificate.kind, certificate.kind),
            "issuer": certificate.issuer,
            "serial_number": certificate.serial_hex,
            "created_at": _time(certificate.created_at),
            # vn_sso extension members: the certificate's validity.
            "valid_until": _time(certificate.not_after),
        }
        if certificate.not_before is not None:
            signature["valid_from"] = _time(certificate.not_before)
        evidence.append(signature)
    return sorted(evidence, key=lambda item: item.get("time") or item.get("created_at") or "")


def _framework_wanted(verification: dict) -> bool:
    wanted = verification.get("trust_framework")
    if not isinstance(wanted, dict):
        return True
    values = wanted.get("values") or ([wanted["value"]] if "value" in wanted else [])
    return not values or TRUST_FRAMEWORK in values


def _verification(account: Account, asked: dict | None) -> dict:
    """`trust_framework` always; the rest when asked for (or when nothing was asked)."""
    evidence = evidence_of(account)
    full = {"trust_framework": TRUST_FRAMEWORK,
            "assurance_level": ASSURANCE_LEVELS.get(account.ial, f"ial{account.ial}")}
    if evidence:
        full["time"] = max(item.get("time") or item.get("created_at") or "" for item in evidence)
        full["evidence"] = evidence
    if asked is None:
        return full
    return {name: value for name, value in full.items()
            if name == "trust_framework" or name in asked}


def verified_claims(account: Account, names, request=None) -> dict | list | None:
    """The `verified_claims` of `account` for the claim `names` the grant may carry.

    `request` is the portal's `verified_claims` request (an object or an array of them,
    OIDC4IDA §6) or None for the scope's release; an answer with no claim is omitted.
    """
    if isinstance(request, list):
        answers = [verified_claims(account, names, item) for item in request]
        answers = [answer for answer in answers if answer]
        return answers or None
    if request is not None and not isinstance(request, dict):
        return None
    allowed = set(names) & set(VERIFIABLE)
    verification_request = None
    if request is not None:
        verification_request = request.get("verification") or {}
        if not isinstance(verification_request, dict) or \
                not _framework_wanted(verification_request):
            return None
        asked = request.get("claims")
        allowed &= set(asked) if isinstance(asked, dict) else set()
    values = {name: value for name, value in claim_values(account).items() if name in allowed}
    if not values:
        return None
    return {"verification": _verification(account, verification_request), "claims": values}
