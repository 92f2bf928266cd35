"""Why a certificate or signature was refused, with the Vietnamese text a user sees."""

from __future__ import annotations

# One entry per reason; the login and registration pages show `message_vi` as is.
MESSAGES_VI = {
    "malformed": "Chứng thư số hoặc chữ ký số không đúng định dạng.",
    "untrusted": "Chứng thư số không do tổ chức cung cấp dịch vụ chứng thực chữ ký số "
                 "được công nhận cấp.",
    "expired": "Chứng thư số đã hết hạn.",
    "not_yet_valid": "Chứng thư số chưa đến thời điểm có hiệu lực.",
    "revoked": "Chứng thư số đã bị thu hồi.",
    "revocation_unavailable": "Tạm thời không kiểm tra được tình trạng thu hồi của chứng thư "
                              "số. Vui lòng thử lại sau ít phút.",
    "key_usage": "Chứng thư số không được phép dùng để ký số.",
    "no_identity": "Chứng thư số không chứa số định danh cá nhân (CCCD), mã số thuế hoặc "
                   "mã số đơn vị có quan hệ với ngân sách hợp lệ.",
    "conflicting_identity": "Chứng thư số chứa các số định danh mâu thuẫn nhau.",
    "unsupported_algorithm": "Thuật toán hoặc khóa của chữ ký số không được hỗ trợ.",
    "bad_signature": "Chữ ký số không hợp lệ.",
}


class CertificateRefused(Exception):
    """A certificate or a signature cannot be accepted.

    `reason` is a stable code for programs and audit; `message_vi` is the text for the
    user; `detail` (the exception text) is for operators' logs and carries no personal data.
    """

    def __init__(self, reason: str, message_vi: str | None = None, *, detail: str = "") -> None:
        if reason not in MESSAGES_VI:
            raise ValueError(f"unknown refusal reason {reason!r}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.message_vi = message_vi or MESSAGES_VI[reason]
        self.detail = detail
