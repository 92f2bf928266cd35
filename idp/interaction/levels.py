"""Assurance levels: account IAL, method level, and the `acr` values portals see.

A login's acr is the lower of the account's IAL and the method's level
(DESIGN §3; each method's level is in `idp.interaction.methods`); portals ask for a
minimum with `acr_values`.
"""

from __future__ import annotations

ACR_BY_LEVEL = {2: "urn:vn:sso:loa:2", 3: "urn:vn:sso:loa:3"}

LEVEL_LABELS = {
    2: "Mức 2 — thông tin định danh đã được đối chiếu với cơ sở dữ liệu",
    3: "Mức 3 — gắn với chứng thư số của tổ chức cung cấp dịch vụ chứng thực",
}
"""What an account's IAL means, as the console and the QR-code verifier say it."""
VERIFIED_BY = {
    "carrier": "Nhà mạng xác nhận thuê bao di động chính chủ",
    "bhxh": "Đối chiếu với cơ sở dữ liệu Bảo hiểm xã hội Việt Nam",
    "post": "Bưu điện Việt Nam xác minh",
    "counter": "Cán bộ bộ phận một cửa kiểm tra giấy tờ trực tiếp",
    "operator": "Cơ quan quản lý hệ thống tạo tài khoản",
    "usb_token": "Chứng thư số trên USB ký số do tổ chức cung cấp dịch vụ chứng thực cấp",
    "sim_signature": "Chứng thư số trên SIM ký số do tổ chức cung cấp dịch vụ chứng thực cấp",
}
"""How an account's identity was checked (`Account.verified_by`), in Vietnamese."""
LEVEL_BY_ACR = {value: level for level, value in ACR_BY_LEVEL.items()}

def login_acr(account_ial: int, method_level: int) -> str:
    """The acr of a login: never above what the account's identity proofing supports."""
    return ACR_BY_LEVEL[max(2, min(account_ial, method_level))]


def level_of(acr: str) -> int:
    """The numeric level of an acr value (0 when unknown)."""
    return LEVEL_BY_ACR.get(acr, 0)
