"""Tax codes (mã số thuế, MST) of enterprises and organisations."""

from __future__ import annotations

from stdnum.exceptions import ValidationError
from stdnum.vn import mst

from vnid.person import InvalidField


def validate_tax_code(value: str) -> str:
    """Check an MST (10 digits, or 13 for a branch, with its check digit) and return it
    formatted as the tax authority writes it (``0100109106-001`` for a branch)."""
    try:
        return mst.format(mst.validate(value))
    except ValidationError:
        raise InvalidField("tax_code", "Mã số thuế (MST) không hợp lệ.") from None
