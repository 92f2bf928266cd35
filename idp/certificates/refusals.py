"""Why a certificate or its signature did not log in, register or bind, with the text the
user sees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Self

from connectors.pki import CertificateRefused

# Reasons of the certificate flows; certificate and signature reasons come from connectors.pki.
# Where a text names the USB token, the SIM signature's pages put their own (idp.simsign).
MESSAGES_VI = {
    "challenge_unknown": "Yêu cầu ký số không hợp lệ hoặc đã được sử dụng. Vui lòng bấm ký số "
                         "lại.",
    "challenge_expired": "Yêu cầu ký số đã quá 5 phút. Vui lòng bấm ký số lại.",
    "not_registered": "Chưa có tài khoản nào gắn với chứng thư số này. Vui lòng đăng ký tài "
                      "khoản bằng USB ký số trước.",
    "other_account": "Chứng thư số này không thuộc tài khoản đang đăng nhập. Vui lòng dùng USB "
                     "ký số của chính tài khoản đó.",
    "certificate_removed": "Chứng thư số này đã được gỡ khỏi tài khoản. Vui lòng dùng chứng thư "
                           "số khác, hoặc thêm lại chứng thư trong trang quản lý tài khoản.",
    "account_inactive": "Tài khoản đang bị khóa. Vui lòng liên hệ tổng đài 18001096 hoặc bộ "
                        "phận một cửa để được hỗ trợ.",
    "wrong_kind": "Chứng thư số này không dùng được cho loại tài khoản đã chọn. Công dân dùng "
                  "chứng thư số cá nhân có số CCCD; doanh nghiệp dùng chứng thư số có mã số "
                  "thuế; cơ quan nhà nước dùng chứng thư số có mã đơn vị quan hệ ngân sách.",
    "no_cccd": "Chứng thư số không có số định danh cá nhân (CCCD) 12 chữ số. Vui lòng liên hệ "
               "tổ chức cung cấp chứng thư số để cập nhật số CCCD.",
}


class CertificateLoginRefused(Exception):
    """A certificate, its signature or the request for one was not accepted; `message_vi`
    is shown as is, `reason` audited, `detail` kept for the operators."""

    messages_vi: ClassVar[Mapping[str, str]] = MESSAGES_VI
    """The text of each reason, for a refusal raised without one."""

    def __init__(self, reason: str, message_vi: str | None = None, *, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.message_vi = message_vi or self.messages_vi[reason]
        self.detail = detail

    @classmethod
    def from_certificate(cls, exc: CertificateRefused) -> Self:
        """The same refusal, for a certificate or signature the PKI layer refused."""
        return cls(exc.reason, exc.message_vi, detail=exc.detail)
