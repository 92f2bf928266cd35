"""Times as people in Vietnam read them: Vietnam time (UTC+7, no daylight saving)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")


def vietnam_time(moment: datetime | float, *, seconds: bool = True) -> str:
    """dd/mm/yyyy hh:mm[:ss] in Vietnam time; stored times are UTC (SQLite drops the zone)."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VIETNAM_TZ).strftime("%d/%m/%Y %H:%M:%S" if seconds
                                                  else "%d/%m/%Y %H:%M")


def clock_time(epoch: float) -> str:
    """"14:35" in Vietnam time, for "until" in a message the same day (or "14:35 ngày
    06/12" when it is not today there)."""
    moment = datetime.fromtimestamp(epoch, UTC).astimezone(VIETNAM_TZ)
    today = datetime.now(UTC).astimezone(VIETNAM_TZ).date()
    if moment.date() == today:
        return moment.strftime("%H:%M")
    return moment.strftime("%H:%M ngày %d/%m")
