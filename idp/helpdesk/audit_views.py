"""The auditor's pages: browse and filter the audit log, export it as CSV, verify the chain.
The auditor's own reading is audited too."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, redirect, render_template, request, stream_with_context, url_for

from idp.audit import recent_window, verify_chain
from idp.helpdesk.auditlog import (
    AuditFilter,
    detail_text,
    export_csv,
    page_of_events,
    parse_filter,
)
from idp.helpdesk.auth import current_staff, requires, staff_event
from idp.helpdesk.blueprint import bp
from idp.params import page_number
from idp.provider import provider

WEB_VERIFY_ROWS = 200_000
"""Rows the console's "verify" button checks, the most recent ones: ≈ 5 s at the ≈ 43,000
rows/s measured on SQLite and PostgreSQL (the server's timeout is 30 s)."""


def _filter() -> tuple[AuditFilter, str | None]:
    return parse_filter(provider().db.session, request.args)


@bp.route("/audit")
@requires("audit")
def audit():
    audit_filter, error = _filter()
    if error:
        return _audit_page(audit_filter, error)
    page = page_number(request.args.get("page"))
    rows, has_next = page_of_events(provider().db.session, audit_filter, page)
    staff_event("staff.audit_view", "success", current_staff(), "audit", page=page,
                **audit_filter.summary())
    return _audit_page(audit_filter, rows=rows, page=page, has_next=has_next)


def _audit_page(audit_filter: AuditFilter, error: str | None = None, *, rows=(), page: int = 1,
                has_next: bool = False):
    return render_template("helpdesk/audit.html", rows=rows, page=page, has_next=has_next,
                           audit_filter=audit_filter, error=error,
                           detail_text=detail_text), 400 if error else 200


@bp.route("/audit/by-cccd", methods=["POST"])
@requires("audit")
def audit_by_cccd():
    """The CCCD comes in the form body and leaves as an account id: no CCCD in any URL."""
    audit_filter, error = parse_filter(provider().db.session, request.form)
    if error:
        return _audit_page(audit_filter, error)
    return redirect(url_for(".audit", **audit_filter.as_query()), 303)


@bp.route("/audit.csv")
@requires("audit")
def audit_export():
    audit_filter, error = _filter()
    if error:
        return _audit_page(audit_filter, error)
    staff_event("staff.audit_export", "success", current_staff(), "audit",
                **audit_filter.summary())
    session = provider().db.sessions()

    def lines():
        try:
            yield from export_csv(session, audit_filter)
        finally:
            session.close()

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"',
                             "Cache-Control": "no-store"})


@bp.route("/audit/verify", methods=["POST"])
@requires("audit")
def audit_verify():
    """Recompute the hash chains of the most recent rows: intact, or the first edited or
    deleted row. The whole log (billions of rows nationally) is `idp audit verify`'s job:
    a web request must end within the server's timeout."""
    with provider().db.sessions() as session:
        report = verify_chain(session, after_id=recent_window(session, WEB_VERIFY_ROWS),
                              secret_key=provider().settings.server.secret_key)
    staff_event("staff.audit_verify", "success" if report.broken_at is None else "failure",
                current_staff(), "audit", rows=report.rows, broken_at=report.broken_at,
                after_id=report.after_id)
    return render_template("helpdesk/verify.html", report=report)
