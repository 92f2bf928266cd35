"""Protocols every connector implements, and the typed outcomes they report.

The framework (rate limits, retries, audit) lives in `idp`; a connector only
talks to its outside system and says what happened.
"""

from __future__ import annotations

from typing import Protocol


class ConnectorUnavailable(Exception):
    """The outside system did not answer in time or answered with an error."""


class SmsSender(Protocol):
    """Delivers a text message to a phone (E.164)."""

    def send(self, phone: str, text: str) -> None:
        """Send `text` to `phone`; raise ConnectorUnavailable when it cannot."""


class EmailSender(Protocol):
    """Delivers an e-mail."""

    def send(self, to: str, subject: str, body: str) -> None:
        """Send a plain-text message; raise ConnectorUnavailable when it cannot."""
