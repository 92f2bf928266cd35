"""The identity documents staff check in person, and how their numbers are shown."""

from __future__ import annotations

import re

EVIDENCE_TYPES: dict[str, str] = {
    "cccd": "Thẻ Căn cước / Căn cước công dân",
    "passport": "Hộ chiếu",
    "confirmation": "Giấy xác nhận thông tin về cư trú / nhân thân",
}
"""Document type (stored) → its Vietnamese name (shown)."""

_NUMBER = re.compile(r"[A-Z0-9]{6,20}")


class InvalidEvidence(ValueError):
    """The evidence fields are not acceptable; the message is Vietnamese."""


def check_evidence(kind: str, number: str, account_cccd: str | None = None) -> tuple[str, str]:
    """Validate a document type and number; return them normalised.

    A CCCD card checked for an existing account must carry that account's number:
    it catches the wrong citizen's card (or a typo) before anything changes.
    """
    if kind not in EVIDENCE_TYPES:
        raise InvalidEvidence("Vui lòng chọn loại giấy tờ đã kiểm tra.")
    number = "".join(number.split()).upper()
    if not _NUMBER.fullmatch(number):
        raise InvalidEvidence("Số giấy tờ gồm 6 đến 20 chữ cái hoặc chữ số.")
    if kind == "cccd" and account_cccd is not None and number != account_cccd:
        raise InvalidEvidence("Số trên thẻ Căn cước không khớp với số định danh của tài khoản.")
    return kind, number


def mask_number(number: str) -> str:
    """A document number as the audit log keeps it: enough to recognise, not to reuse."""
    return number[:3] + "*" * max(len(number) - 5, 1) + number[-2:]
