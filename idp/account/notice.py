"""The notice of a login from a new browser: what it says and where it goes.

A browser is new for an account when it holds no device-cookie entry for it (see
idp.login.devices): the first login there sends the notice, later ones do not. The
notice names the device and time, and carries two links: the access history, and
"Không phải tôi" for this very login (idp.account.not_me). The login flow says a login
came from a new browser (`idp.login.outcome.new_browser_login`); the account console,
which owns the history and the link, answers it here.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import request, url_for

from connectors.base import ConnectorUnavailable
from idp.account.history import describe_device
from idp.account.not_me import LINK_DAYS, notice_token
from idp.account.services import notify_phone
from idp.audit import record_event
from idp.provider import provider
from idp.store.models import Account
from idp.vntime import vietnam_time

log = logging.getLogger(__name__)


def notify_new_browser(_app, account: Account, event_id: int) -> None:
    """Tell the owner about this login (its audit row `event_id`) by SMS or e-mail, as
    configured; a failed send never fails the login."""
    channel = provider().settings.notices.new_browser_login
    if channel == "off":
        return
    history = url_for("account.history", _external=True)
    not_me = url_for("account.not_me_notice", token=notice_token(account.id, event_id),
                     _external=True)
    device = describe_device(request.user_agent.string)
    at = vietnam_time(datetime.now(UTC), seconds=False)
    if channel == "email" and account.email and account.email_verified:
        try:
            provider().email.send(
                account.email, "Đăng nhập tài khoản định danh từ thiết bị mới",
                f"Xin chào {account.full_name},\n\nTài khoản định danh của bạn vừa đăng nhập "
                f"lúc {at} trên {device} (địa chỉ IP {request.remote_addr}), một trình duyệt "
                f"chưa từng đăng nhập tài khoản này.\n\nXem lịch sử truy cập: {history}\n\n"
                "Nếu không phải bạn, hãy mở liên kết sau (hiệu lực "
                f"{LINK_DAYS} ngày) để đăng xuất lượt đăng nhập đó và báo cho bộ phận hỗ "
                f"trợ, rồi đổi mật khẩu:\n{not_me}\n",
            )
        except ConnectorUnavailable as exc:
            log.warning("new-browser e-mail not sent: %s", exc)
            return
        record_event("notice.new_browser", "success", account_id=account.id,
                     channel="email", login_event=event_id)
        return
    phone = account.default_phone
    if phone is None:
        return
    notify_phone(phone, f"Tài khoản định danh của bạn vừa đăng nhập lúc {at} trên {device} "
                        f"(thiết bị mới). Lịch sử truy cập: {history} . Không phải bạn? "
                        f"{not_me} .")
    record_event("notice.new_browser", "success", account_id=account.id, channel="sms",
                 login_event=event_id)
