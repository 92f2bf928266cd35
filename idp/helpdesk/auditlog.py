"""The auditor's view of the audit log: filters, pages, CSV export, chain verification.

Nothing here writes to the log except the auditor's own actions. Exports carry no
secret (the log holds none) and no full CCCD: any 12-digit run left in a row's
detail is masked on the way out, whatever wrote it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from idp.params import parse_id
from idp.store.models import Account, AuditEvent
from vnid.person import InvalidField, validate_cccd

PAGE_SIZE = 50
EXPORT_BATCH = 2000
CSV_COLUMNS = ("id", "at", "event", "result", "account_id", "client_id", "actor", "actor_role",
               "ip", "detail")
_TWELVE_DIGITS = re.compile(r"(?<!\d)(\d{3})\d{7}(\d{2})(?!\d)")


@dataclass(frozen=True)
class AuditFilter:
    """Which rows to show: by account (id or CCCD), event name prefix, staff username."""

    account_id: int | None = None
    event: str = ""
    staff: str = ""

    def as_query(self) -> dict[str, str]:
        """For links to the next page and the export (the CCCD becomes the account id)."""
        values = {"account": str(self.account_id) if self.account_id is not None else "",
                  "event": self.event, "staff": self.staff}
        return {key: value for key, value in values.items() if value}

    def summary(self) -> dict[str, str | int | None]:
        """For the audit row of the auditor's own search."""
        return {"filter_account": self.account_id, "filter_event": self.event or None,
                "filter_staff": self.staff or None}


def parse_filter(session: Session, args: Mapping[str, str]) -> tuple[AuditFilter, str | None]:
    """Read the filter form; returns it with an error message for a malformed field.

    A CCCD is turned into its account id here, so it never needs to travel in a URL.
    """
    account_text = (args.get("account") or "").strip()
    cccd_text = (args.get("cccd") or "").strip()
    event = (args.get("event") or "").strip()[:64]
    staff = (args.get("staff") or "").strip().lower().removeprefix("staff:")[:64]
    account_id, error = None, None
    if account_text:
        account_id = parse_id(account_text)
        if account_id is None:
            error = "Mã tài khoản phải là số."
    if cccd_text:
        try:
            cccd = validate_cccd(cccd_text)
        except InvalidField as exc:
            return AuditFilter(event=event, staff=staff), exc.message
        # An unknown CCCD matches no row (id 0 is never assigned), it does not widen the search.
        account_id = session.scalar(select(Account.id).where(Account.cccd_is(cccd))) or 0
    return AuditFilter(account_id, event, staff), error


def _select(audit_filter: AuditFilter) -> Select:
    query = select(AuditEvent)
    if audit_filter.account_id is not None:
        query = query.where(AuditEvent.account_id == audit_filter.account_id)
    if audit_filter.event:
        query = query.where(AuditEvent.event.startswith(audit_filter.event, autoescape=True))
    if audit_filter.staff:
        query = query.where(AuditEvent.actor == f"staff:{audit_filter.staff}")
    return query


def page_of_events(session: Session, audit_filter: AuditFilter, page: int
                   ) -> tuple[list[AuditEvent], bool]:
    """Newest first; returns the rows of `page` (from 1) and whether another page follows."""
    rows = list(session.scalars(
        _select(audit_filter).order_by(AuditEvent.id.desc())
        .offset((max(page, 1) - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def mask_digits(text: str) -> str:
    """Hide any 12-digit number (a CCCD) as 001*******45."""
    return _TWELVE_DIGITS.sub(lambda m: f"{m.group(1)}{'*' * 7}{m.group(2)}", text)


def detail_text(row: AuditEvent) -> str:
    return mask_digits(json.dumps(row.detail or {}, ensure_ascii=False, sort_keys=True))


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ runs as a formula in spreadsheet programs.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv(session: Session, audit_filter: AuditFilter) -> Iterator[str]:
    """The matching rows in id order as CSV lines (UTF-8 with BOM, for spreadsheets)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + buffer.getvalue()
    last = 0
    while True:
        rows = session.scalars(_select(audit_filter).where(AuditEvent.id > last)
                               .order_by(AuditEvent.id).limit(EXPORT_BATCH)).all()
        if not rows:
            return
        buffer.seek(0)
        buffer.truncate()
        for row in rows:
            writer.writerow([_cell(value) for value in (
                row.id, row.at.isoformat(), row.event, row.result, row.account_id,
                row.client_id, row.actor, row.actor_role, row.ip, detail_text(row))])
        yield buffer.getvalue()
        last = rows[-1].id
        session.expunge_all()
