"""The citizen's access history, read from the audit log, and how it is shown in Vietnamese."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select

from idp.oidc.claims import LABELS as CLAIM_LABELS
from idp.provider import provider
from idp.sessions import account_sessions, session_handle
from idp.store.models import AuditEvent, Client, Complaint
from idp.vntime import vietnam_time

PAGE_SIZE = 20
CONSOLE_NAME = "Tài khoản định danh"
"""How the provider's own pages (this console) appear where a portal name would."""

# Accesses (successes and failures alike), logouts, and reads of the citizen's QR-code
# shares (idp/sharing): whoever scanned one, when and from where...
LOGIN_EVENTS = ("login", "login.sso")
"""Logins that started or used a session: what "Không phải tôi" can be pressed on."""
_ACCESS_EVENTS = (*LOGIN_EVENTS, "logout", "share.read")
# ...and the failed steps of a login: their successes are already the "login" row.
_STEP_EVENTS = ("login.password", "login.otp", "login.totp")

METHODS = {
    "pwd+sms": "Mật khẩu + mã OTP qua SMS",
    "pwd+totp": "Mật khẩu + ứng dụng xác thực",
    "pwd+sms:recovery": "Mật khẩu + OTP tới số điện thoại mới (mất số cũ)",
    "sso": "Phiên đăng nhập một lần (SSO)",
    "usb_token": "USB ký số (chứng thư số)",
    "sim_signature": "Ký số trên SIM điện thoại",
}
STEP_METHODS = {
    "login.password": "Mật khẩu",
    "login.otp": "Mã OTP qua SMS",
    "login.totp": "Ứng dụng xác thực",
    "logout": "Đăng xuất",
}
RESULTS = {"success": "Thành công", "failure": "Thất bại", "refused": "Bị từ chối"}
SHARE_READER = "Người quét mã QR bạn chia sẻ"
SHARE_REFUSALS = {"used": "mã dùng một lần đã được đọc", "expired": "mã đã hết hạn",
                  "revoked": "mã đã bị thu hồi"}

_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("coc_coc", "Cốc Cốc"),
             ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iOS"),
            ("iPad", "iPadOS"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
            ("Linux", "Linux"))


def describe_device(user_agent: str | None) -> str:
    """"Chrome trên Windows": enough for a citizen to recognise their own device."""
    agent = user_agent or ""
    browser = next((name for marker, name in _BROWSERS if marker in agent), None)
    system = next((name for marker, name in _SYSTEMS if marker in agent), None)
    if browser and system:
        return f"{browser} trên {system}"
    return browser or system or "Không xác định"


def portal_names(client_ids: set[str]) -> dict[str, str]:
    """Portal names by client id; the console itself has the empty id."""
    names = {"": CONSOLE_NAME}
    wanted = client_ids - {""}
    if wanted:
        rows = provider().db.session.execute(
            select(Client.client_id, Client.name).where(Client.client_id.in_(wanted))
        )
        names.update((client_id, name) for client_id, name in rows)
    return names


@dataclass
class HistoryRow:
    at: str
    ip: str
    device: str
    method: str
    portal: str
    result: str
    ok: bool
    event_id: int
    reportable: bool
    """A login this page offers "Không phải tôi" for."""
    reported: bool
    """A login the citizen already reported as not theirs."""


@dataclass
class HistoryPage:
    rows: list[HistoryRow]
    page: int
    pages: int
    total: int


def _method(row: AuditEvent) -> str:
    if row.event == "share.read":
        detail = row.detail or {}
        items = ", ".join(CLAIM_LABELS.get(item, item) for item in detail.get("items", []))
        refusal = SHARE_REFUSALS.get(detail.get("reason", ""))
        return f"Đọc mã QR chia sẻ ({items})" + (f" — {refusal}" if refusal else "")
    method = (row.detail or {}).get("method")
    if method:
        return METHODS.get(method, method)
    return STEP_METHODS.get(row.event, row.event)


def access_history(account_id: int, page: int) -> HistoryPage:
    """One page (newest first, PAGE_SIZE rows) of the account's logins, failures and logouts."""
    session = provider().db.session
    where = and_(
        AuditEvent.account_id == account_id,
        or_(AuditEvent.event.in_(_ACCESS_EVENTS),
            and_(AuditEvent.event.in_(_STEP_EVENTS), AuditEvent.result != "success")),
    )
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(where)) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    events = session.scalars(
        select(AuditEvent).where(where).order_by(AuditEvent.id.desc())
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    names = portal_names({row.client_id for row in events if row.client_id is not None})
    reported = set(session.scalars(select(Complaint.event_id).where(
        Complaint.event_id.in_([row.id for row in events]))))
    rows = [
        HistoryRow(
            at=vietnam_time(row.at),
            ip=row.ip or "—",
            device=describe_device(row.user_agent),
            method=_method(row),
            portal=(SHARE_READER if row.event == "share.read"
                    else names.get(row.client_id, row.client_id) if row.client_id is not None
                    else "—"),
            result=RESULTS.get(row.result, row.result),
            ok=row.result == "success",
            event_id=row.id,
            reportable=row.event in LOGIN_EVENTS and row.result == "success",
            reported=row.id in reported,
        )
        for row in events
    ]
    return HistoryPage(rows, page, pages, total)


@dataclass
class SessionRow:
    handle: str
    started: str
    expires: str
    method: str
    portals: list[str]
    current: bool


def describe_amr(amr: list[str]) -> str:
    """The login method of a session, from its RFC 8176 method references."""
    if "hwk" in amr:
        return METHODS["usb_token"]
    if "mca" in amr:  # the SIM's signature, confirmed on the phone
        return METHODS["sim_signature"]
    if "sms" in amr:
        return METHODS["pwd+sms"]
    if "otp" in amr:
        return METHODS["pwd+totp"]
    return ", ".join(amr)


def session_rows(account_id: int, current_sid: str | None) -> list[SessionRow]:
    """The account's live sessions, newest first, with the portals each one served."""
    sessions = sorted(account_sessions(account_id), key=lambda s: s.auth_time, reverse=True)
    names = portal_names({client for session in sessions for client in session.clients})
    return [
        SessionRow(
            handle=session_handle(session.sid),
            started=vietnam_time(datetime.fromtimestamp(session.auth_time, UTC)),
            expires=vietnam_time(datetime.fromtimestamp(session.expires, UTC)),
            method=describe_amr(session.amr),
            portals=[names.get(client, client) for client in session.clients],
            current=session.sid == current_sid,
        )
        for session in sessions
    ]
