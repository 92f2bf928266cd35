"""A clock the key tests move by hand (the key ring reads both kinds of time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Monotonic and wall time that a test moves by hand."""

    def __init__(self) -> None:
        self.seconds = 1000.0
        self.wall = datetime(2025, 1, 1, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.seconds += seconds
        self.wall += timedelta(seconds=seconds)
