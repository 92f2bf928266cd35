"""Console pages of the data subject's rights (Decree 13/2023): "Không phải tôi" on a
login, from the access history or from the link of a login notice."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from idp.account.not_me import login_of_token, login_summary, report_not_me, reportable_login
from idp.account.web import bp, form_int, viewer
from idp.errors import refuse
from idp.sessions import session_handle

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
