"""Error pages for people (Vietnamese HTML) and the handlers that keep 500s away."""

from __future__ import annotations

import logging
from typing import NoReturn

from flask import Flask, abort, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from connectors.base import ConnectorUnavailable
from idp.store.state import StoreUnavailable

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Yêu cầu không hợp lệ", "Yêu cầu gửi đến hệ thống không hợp lệ."),
    403: ("Không được phép", "Bạn không có quyền thực hiện thao tác này."),
    404: ("Không tìm thấy trang", "Địa chỉ bạn truy cập không tồn tại."),
    405: ("Phương thức không được hỗ trợ", "Trang này không nhận loại yêu cầu đó."),
    413: ("Dữ liệu quá lớn", "Dữ liệu gửi lên vượt quá giới hạn cho phép."),
    429: ("Quá nhiều yêu cầu", "Bạn đã thử quá nhiều lần. Vui lòng thử lại sau ít phút."),
    500: ("Lỗi hệ thống", "Hệ thống gặp sự cố. Vui lòng thử lại sau."),
    503: (
        "Hệ thống tạm thời gián đoạn",
        "Dịch vụ tạm thời không khả dụng. Vui lòng thử lại sau ít phút.",
    ),
}


def _ways_on() -> list[tuple[str, str]]:
    """Where a person can go from an error: staff to their console, citizens to their
    account (a login in progress adds its own "Đăng nhập lại" where it has one)."""
    if request.path.startswith("/helpdesk"):
        return [("Về trang chính của cán bộ", "/helpdesk")]
    return [("Về trang tài khoản định danh", "/account")]


def error_page(status: int, message: str | None = None, title: str | None = None,
               actions: list[tuple[str, str]] | None = None):
    """A Vietnamese error page with `status` and a way forward (`actions`: label, URL)."""
    default_title, default_message = MESSAGES.get(status, MESSAGES[400])
    staff = request.path.startswith("/helpdesk")
    return (
        render_template(
            "helpdesk/error.html" if staff else "error.html",
            title=title or default_title, message=message or default_message,
            actions=actions if actions is not None else _ways_on(),
        ),
        status,
    )


def refuse(message: str, status: int = 400,
           actions: list[tuple[str, str]] | None = None) -> NoReturn:
    """End the request here with a Vietnamese error page saying `message`."""
    abort(make_response(error_page(status, message, actions=actions)))


def _wants_json() -> bool:
    return request.path.startswith(("/token", "/userinfo", "/introspect", "/revoke",
                                    "/share/verify", "/status-lists", "/par"))


def init_app(app: Flask) -> None:
    """Register handlers so every failure gets a clear answer, never a bare 500."""

    @app.errorhandler(CSRFError)
    def _csrf(_error):
        return error_page(
            400,
            "Phiên làm việc trên biểu mẫu đã hết hạn hoặc không hợp lệ. "
            "Vui lòng quay lại và thử lại.",
        )

    @app.errorhandler(StoreUnavailable)
    @app.errorhandler(ConnectorUnavailable)
    @app.errorhandler(OperationalError)
    def _unavailable(error):
        # Fail closed: nothing half-checked is accepted; the node recovers when the
        # database or Redis is back (pool_pre_ping, Redis reconnects).
        log.error("dependency unavailable: %s", type(error).__name__)
        if _wants_json():
            return {"error": "temporarily_unavailable"}, 503, {"Retry-After": "5"}
        return error_page(503)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if _wants_json():
            return {"error": "invalid_request", "error_description": error.description}, (
                error.code or 400
            )
        return error_page(error.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(error):
        log.exception("unhandled error on %s", request.path)
        if _wants_json():
            return {"error": "server_error"}, 500
        return error_page(500)
