"""E-mail senders: an outbox file for development and tests, SMTP for production."""

from __future__ import annotations

import fcntl
import json
import smtplib
import time
from email.message import EmailMessage
from pathlib import Path

from connectors.base import ConnectorUnavailable


class OutboxEmailSender:
    """Appends one JSON line per message to a file that developers and tests read."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_settings(cls, settings) -> OutboxEmailSender:
        return cls(settings.path(settings.email.outbox_path))

    def send(self, to: str, subject: str, body: str) -> None:
        line = json.dumps(
            {"at": time.time(), "to": to, "subject": subject, "body": body}, ensure_ascii=False
        )
        try:
            with self.path.open("a", encoding="utf-8") as outbox:
                fcntl.flock(outbox, fcntl.LOCK_EX)
                outbox.write(line + "\n")
        except OSError as exc:
            raise ConnectorUnavailable(f"cannot write e-mail outbox: {exc}") from exc


class SmtpEmailSender:
    """Sends through an SMTP relay with STARTTLS; a failure is reported, never retried here."""

    def __init__(self, host: str, port: int, sender: str, username: str, password: str,
                 timeout: float) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.timeout = username, password, timeout

    @classmethod
    def from_settings(cls, settings) -> SmtpEmailSender:
        e = settings.email
        return cls(e.smtp_host, e.smtp_port, e.sender, e.smtp_username, e.smtp_password,
                   e.timeout)

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectorUnavailable(f"SMTP relay failed: {exc}") from exc


def read_outbox(path: str | Path) -> list[dict]:
    """Every message in an e-mail outbox file, oldest first (for the demo and tests)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
