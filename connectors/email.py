"""E-mail senders: an outbox file for development and tests, SMTP for production."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

from connectors.base import ConnectorUnavailable
from connectors.outbox import Outbox, read_outbox

__all__ = ["OutboxEmailSender", "SmtpEmailSender", "read_outbox"]


class OutboxEmailSender:
    """Writes each e-mail to an outbox file instead of sending it (development, demo, tests)."""

    def __init__(self, path: str | Path) -> None:
        self.outbox = Outbox(path, "email")

    @classmethod
    def from_settings(cls, settings) -> OutboxEmailSender:
        return cls(settings.path(settings.email.outbox_path))

    def send(self, to: str, subject: str, body: str) -> None:
        self.outbox.append({"to": to, "subject": subject, "body": body})


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

