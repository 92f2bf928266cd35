"""Console pages of the data subject's rights (Decree 13/2023): "Tải về dữ liệu của tôi",
and "Không phải tôi" on a login, from the access history or from a login notice's link."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import make_response, redirect, render_template, request, url_for

from idp.account.export import personal_data
from idp.account.not_me import login_of_token, login_summary, report_not_me, reportable_login
from idp.account.web import bp, form_int, page, recent_viewer, viewer
from idp.errors import refuse
from idp.sessions import session_handle
from idp.vntime import vietnam_time

EXPORT_MAX_AGE = 300
"""The download needs a login at most 5 minutes old: it holds everything, unmasked, so an
unattended browser with an old session must not hand it over."""
EXPORT_PURPOSE = "xem và tải về toàn bộ dữ liệu của bạn"

INVALID_LINK = ("Liên kết không hợp lệ hoặc đã hết hạn. Hãy đăng nhập và bấm \"Không phải tôi\" "
                "trên dòng tương ứng của Lịch sử truy cập, hoặc gọi tổng đài 18001096.")


@bp.route("/account/not-me", methods=["POST"])
def not_me():
    """"Không phải tôi" on a row of the access history."""
    current = viewer()
    event_id = form_int("event")
    row = reportable_login(current.account.id, event_id) if event_id else None
    if row is None:
        return redirect(url_for(".history"), 303)
    this_browser = (row.detail or {}).get("session") == session_handle(current.session.sid)
    report = report_not_me(current.account, row, "history")
    return render_template("account/not_me_done.html", report=report, login=login_summary(row),
                           this_browser=this_browser and report.sessions_ended > 0)


@bp.route("/account/not-me/<token>", methods=["GET", "POST"])
def not_me_notice(token: str):
    """The "Không phải tôi" link of a login notice: a confirmation page, then the report
    (no login needed: the link is signed for that one login)."""
    found = login_of_token(token)
    if found is None:
        refuse(INVALID_LINK)
    account, row = found
    if request.method == "GET":
        return render_template("account/not_me_confirm.html", login=login_summary(row),
                               token=token)
    report = report_not_me(account, row, "notice")
    return render_template("account/not_me_done.html", report=report, login=login_summary(row),
                           this_browser=False)


@bp.app_template_filter("iso_vn_time")
def iso_vn_time(value: str) -> str:
    """An ISO 8601 time of the export, as people in Vietnam read it."""
    return vietnam_time(datetime.fromisoformat(value))


@bp.route("/account/data")
def my_data():
    """Everything held about the citizen, readable, with the JSON file to download."""
    current = recent_viewer(".my_data", EXPORT_MAX_AGE, EXPORT_PURPOSE)
    return page("my_data.html", current, data=personal_data(current.account, "html"))


@bp.route("/account/data.json")
def my_data_file():
    """The same as a JSON file (UTF-8) to keep or to give to another service."""
    current = recent_viewer(".my_data", EXPORT_MAX_AGE, EXPORT_PURPOSE)
    body = json.dumps(personal_data(current.account, "json"), ensure_ascii=False, indent=2)
    response = make_response(body)
    response.mimetype = "application/json"
    day = datetime.now(UTC).strftime("%Y%m%d")
    response.headers["Content-Disposition"] = f'attachment; filename="du-lieu-ca-nhan-{day}.json"'
    response.headers["Cache-Control"] = "no-store"
    return response
