"""What the consent screen names: each claim a portal will receive, with the value it will
see, and, for verified claims, the trust framework, the level and each piece of evidence
(OIDC4IDA), in Vietnamese."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from idp.oidc.claims import (
    ACCOUNT_TYPES,
    GENDERS,
    LABELS,
    ORGANIZATION_NAMES,
    SCOPES,
    scope_claims,
    user_claims,
)
from idp.oidc.claims_request import VERIFIED
from idp.oidc.verified_claims import TRUST_FRAMEWORK, VERIFIABLE, evidence_of
from idp.store.models import Account

VIETNAM = timezone(timedelta(hours=7))
DOCUMENT_NAMES = {"idcard": "thẻ Căn cước / CCCD", "passport": "hộ chiếu"}
SIGNATURE_NAMES = {"usb_token_certificate": "USB ký số", "sim_certificate": "SIM ký số"}


@dataclass
class ConsentLine:
    label: str
    value: str


def _when(value: str | None) -> str:
    if not value:
        return "không rõ thời điểm"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(VIETNAM)
    return moment.strftime("%H:%M %d/%m/%Y")


def _day(value: str | None) -> str:
    return _when(value)[6:] if value else "?"


def evidence_line(item: dict) -> str:
    """One piece of evidence as a citizen reads it."""
    if item["type"] == "electronic_record":
        return (f"Đối chiếu với dữ liệu của {item['record']['source']['name']} "
                f"lúc {_when(item.get('time'))}")
    if item["type"] == "document":
        check = item["check_details"][0]
        where = f" tại {check['organization']}" if check.get("organization") else ""
        who = f", cán bộ {check['txn'].removeprefix('staff:')}" if check.get("txn") else ""
        document = DOCUMENT_NAMES.get(item["document_details"]["type"], "giấy tờ tùy thân")
        return f"Kiểm tra trực tiếp {document}{where}{who}, lúc {_when(item.get('time'))}"
    kind = SIGNATURE_NAMES.get(item["signature_type"], "chứng thư số")
    return (f"Chứng thư số ({kind}) do {item['issuer']} cấp, số sê-ri {item['serial_number']}, "
            f"hiệu lực {_day(item.get('valid_from'))} – {_day(item.get('valid_until'))}")


def _verified_lines(account: Account, names: set[str]) -> list[ConsentLine]:
    verified = [LABELS[name] for name in VERIFIABLE if name in names]
    if not verified:
        return []
    lines = [ConsentLine("Thông tin đã xác minh (verified_claims)",
                         f"{', '.join(verified)} — khung tin cậy {TRUST_FRAMEWORK}, "
                         f"mức định danh {account.ial}")]
    lines += [ConsentLine("Bằng chứng xác minh", evidence_line(item))
              for item in evidence_of(account)]
    return lines


def consent_lines(account: Account, scopes: list[str], extra=()) -> list[ConsentLine]:
    """Each claim the portal will receive, labelled in Vietnamese, with the value it will see."""
    claims = user_claims(account, scopes, sub="", extra=extra)
    lines = []
    for name, value in claims.items():
        if name not in LABELS or name == "sub":
            continue
        if name == "name" and account.account_type != "citizen":
            lines.append(ConsentLine(ORGANIZATION_NAMES[account.account_type], str(value)))
            continue
        if name == "gender":
            value = GENDERS.get(value, value)
        elif name == "account_type":
            value = ACCOUNT_TYPES.get(value, value)
        elif name == "ial":
            value = f"Mức {value}"
        elif name == "birthdate":
            value = account.birthdate.strftime("%d/%m/%Y")
        lines.append(ConsentLine(LABELS[name], str(value)))
    if VERIFIED in scopes or VERIFIED in extra:
        lines += _verified_lines(account, (scope_claims(scopes) | set(extra)) & set(claims))
    if "offline_access" in scopes:
        lines.append(ConsentLine(SCOPES["offline_access"][1], "Có"))
    return lines
