"""The console's blueprint and what every page needs: a live session, sometimes a recent one."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, make_response, redirect, render_template, request, url_for

from idp.account.history import CONSOLE_NAME
from idp.account.not_me import password_change_asked
from idp.account.services import RECENT_AUTH_SECONDS, is_recent
from idp.interaction import start_interaction
from idp.params import parse_id
from idp.provider import provider
from idp.sessions import SsoSession, browser_id, current_session
from idp.store.models import Account

bp = Blueprint("account", __name__)

DONE_MESSAGES = {  # shown once after a change, by the page it redirects to
    "password": "Đã đổi mật khẩu. Các phiên đăng nhập khác đã được đăng xuất.",
    "phone_added": "Đã thêm số điện thoại nhận OTP.",
    "phone_removed": "Đã xóa số điện thoại.",
    "phone_default": "Đã đổi số điện thoại nhận OTP mặc định.",
    "totp_enrolled": "Đã đăng ký ứng dụng xác thực. Từ lần đăng nhập sau, bạn có thể dùng mã "
    "trên ứng dụng thay cho mã OTP qua SMS.",
    "totp_removed": "Đã gỡ ứng dụng xác thực.",
    "session_ended": "Đã đăng xuất phiên đăng nhập đó.",
    "consent_revoked": "Đã thu hồi quyền truy cập của cổng dịch vụ.",
    "certificate_added": "Đã thêm USB ký số vào tài khoản.",
    "certificate_added_ial3": "Đã thêm USB ký số. Tài khoản của bạn đã được nâng lên mức độ "
    "định danh 3.",
    "certificate_removed": "Đã gỡ chứng thư số khỏi tài khoản.",
    "share_revoked": "Đã thu hồi mã QR. Mã không đọc được nữa, và ai kiểm tra lại thông tin "
    "đã đọc từ mã sẽ thấy mã đã bị thu hồi.",
}


@dataclass
class Viewer:
    """The citizen looking at the console: their session and their account."""

    session: SsoSession
    account: Account


def _login(return_to: str, login_hint: str | None = None) -> str:
    """Start a login that comes back to `return_to` (a page of this console)."""
    interaction = start_interaction(
        browser_id(), params={"login_hint": login_hint} if login_hint else {},
        client_id="", client_name=CONSOLE_NAME, return_to=return_to,
    )
    return url_for("login.password", tx=interaction.id)


def viewer() -> Viewer:
    """The logged-in citizen; otherwise the browser goes to the login page and comes back."""
    session = current_session()
    account = provider().db.session.get(Account, session.account_id) if session else None
    if session is None or account is None or account.status != "active":
        # "account.home", not ".home": other blueprints (usb, sim) call this too.
        back = (request.full_path.rstrip("?") if request.method == "GET"
                else url_for("account.home"))
        abort(redirect(_login(back), 303 if request.method == "POST" else 302))
    return Viewer(session, account)


def recent_viewer(return_endpoint: str, max_age: int = RECENT_AUTH_SECONDS,
                  purpose: str | None = None) -> Viewer:
    """The citizen, authenticated within the last `max_age` seconds (10 minutes: sensitive
    changes); otherwise a page that sends them to log in again, saying why (`purpose`)."""
    current = viewer()
    if not is_recent(current.session, max_age):
        login_url = _login(url_for(return_endpoint), current.account.cccd)
        abort(make_response(render_template("account/reauth.html", login_url=login_url,
                                            purpose=purpose, minutes=max_age // 60)))
    return current


def page(template: str, current: Viewer, status: int = 200, **context):
    """Render a console page (the navigation needs the account)."""
    done = DONE_MESSAGES.get(request.args.get("done", ""))
    return render_template(f"account/{template}", account=current.account, done=done,
                           change_password=password_change_asked(current.account),
                           **context), status


def form_int(name: str) -> int | None:
    """An id form field, or None when absent or malformed (see idp.params)."""
    return parse_id(request.form.get(name))
