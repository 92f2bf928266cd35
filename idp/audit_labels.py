"""What audit events and their results are called in Vietnamese, for staff screens.

The log keeps stable English codes (auditors filter and export by them); people read these
labels. An event without a label shows its code, so a new event is never hidden.
"""

from __future__ import annotations

EVENTS = {
    "account.export": "Tải về dữ liệu cá nhân",
    "account.ial_raised": "Nâng mức định danh",
    "audit.purge": "Xóa nhật ký quá hạn lưu trữ",
    "login.not_me": "Báo lượt đăng nhập không phải của mình",
    "notice.new_browser": "Báo đăng nhập từ thiết bị mới",
    "complaint.filed": "Gửi khiếu nại",
    "consent": "Đồng ý chia sẻ thông tin",
    "consent.revoke": "Thu hồi đồng ý chia sẻ",
    "counter.activate": "Kích hoạt tài khoản đăng ký tại quầy",
    "email.verify": "Xác nhận thư điện tử",
    "email.verify_sent": "Gửi thư xác nhận",
    "login": "Đăng nhập",
    "login.password": "Bước mật khẩu",
    "login.otp": "Bước mã OTP",
    "login.totp": "Bước ứng dụng xác thực",
    "login.sim": "Đăng nhập bằng SIM ký số",
    "login.sso": "Đăng nhập một lần (SSO)",
    "login.usb": "Đăng nhập bằng USB ký số",
    "logout": "Đăng xuất",
    "otp.send": "Gửi mã OTP",
    "password.change": "Đổi mật khẩu",
    "password.reset": "Đặt lại mật khẩu",
    "password.reset_start": "Yêu cầu đặt lại mật khẩu",
    "phone.add": "Thêm số điện thoại",
    "phone.change": "Đổi số điện thoại",
    "phone.default": "Đổi số nhận OTP mặc định",
    "phone.recover": "Tự đổi số khi mất điện thoại",
    "phone.recover_check": "Nhà mạng xác nhận số mới",
    "phone.remove": "Gỡ số điện thoại",
    "register.check": "Kiểm tra thông tin đăng ký",
    "register.complete": "Hoàn tất đăng ký",
    "register.email": "Kích hoạt qua thư điện tử",
    "register.email_sent": "Gửi thư kích hoạt",
    "register.otp": "Xác thực OTP khi đăng ký",
    "register.sim": "Đăng ký bằng SIM ký số",
    "register.usb": "Đăng ký bằng USB ký số",
    "sim_signature.add": "Thêm SIM ký số",
    "keys.rotate": "Xoay vòng khóa ký",
    "keys.withdraw": "Thu hồi khóa ký bị lộ",
    "keys.rotate_data_key": "Tạo khóa mới cho dữ liệu cá nhân",
    "staff.admin.create": "Tạo tài khoản cán bộ",
    "staff.admin.enable": "Mở/khóa tài khoản cán bộ",
    "staff.admin.reset_totp": "Cấp lại ứng dụng xác thực cho cán bộ",
    "staff.admin.roles": "Đổi vai trò cán bộ",
    "staff.audit_export": "Xuất nhật ký kiểm toán",
    "staff.audit_verify": "Kiểm tra chuỗi nhật ký",
    "staff.audit_view": "Xem nhật ký kiểm toán",
    "staff.complaint_handle": "Xử lý khiếu nại",
    "staff.credentials_replace": "Cán bộ thay mật khẩu và ứng dụng xác thực",
    "staff.denied": "Cán bộ bị từ chối quyền",
    "staff.login": "Cán bộ đăng nhập",
    "staff.logout": "Cán bộ đăng xuất",
    "staff.phone_reset.approve": "Phê duyệt đổi số điện thoại",
    "staff.phone_reset.cancel": "Hủy yêu cầu đổi số",
    "staff.phone_reset.carrier": "Nhà mạng kiểm tra số mới",
    "staff.phone_reset.otp": "Xác thực OTP số mới",
    "staff.phone_reset.reject": "Từ chối đổi số điện thoại",
    "staff.phone_reset.start": "Tạo yêu cầu đổi số điện thoại",
    "staff.register_citizen": "Đăng ký tài khoản tại quầy",
    "staff.search": "Tra cứu tài khoản",
    "staff.unlock": "Mở tạm dừng đăng nhập",
    "staff.view_account": "Xem hồ sơ tài khoản",
    "staff.view_complaint": "Xem khiếu nại",
    "token.code_reuse": "Dùng lại mã ủy quyền",
    "token.revoke": "Thu hồi token",
    "token.revoke_grant": "Thu hồi quyền truy cập của cổng",
    "totp.enrol": "Đăng ký ứng dụng xác thực",
    "totp.remove": "Gỡ ứng dụng xác thực",
    "usb_token.add": "Thêm USB ký số",
    "usb_token.remove": "Gỡ USB ký số",
}
RESULTS = {
    "success": "Thành công",
    "failure": "Thất bại",
    "refused": "Bị từ chối",
    "granted": "Đã đồng ý",
    "exists": "Đã có tài khoản",
    "unavailable": "Hệ thống ngoài không phản hồi",
    "cancelled": "Đã hủy",
    "not_found": "Không tìm thấy",
}


def event_label(code: str) -> str:
    """The Vietnamese name of an audit event (its code when it has none yet)."""
    return EVENTS.get(code, code)


def result_label(code: str) -> str:
    """The Vietnamese word for an event's result."""
    return RESULTS.get(code, code)
