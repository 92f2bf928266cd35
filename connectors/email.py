"""E-mail senders: an outbox file for development and tests, SMTP for production."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

from pydantic import Field

from connectors.base import ConnectorSettings, ConnectorUnavailable
from connectors.outbox import Outbox, read_outbox

__all__ = ["EmailSettings", "OutboxEmailSender", "SmtpEmailSender", "read_outbox"]


class EmailSettings(ConnectorSettings):
    """One section for both senders: `email.outbox` (a JSON-lines file) or `email.smtp`."""

    connector: str = "email.outbox"
    outbox_path: str = "var/email-outbox.jsonl"
    sender: str = "khong-tra-loi@dichvucong.gov.vn"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = ""
    timeout: float = Field(10.0, gt=0, le=60)


class OutboxEmailSender:
    """Writes each e-mail to an outbox file instead of sending it (development, demo, tests)."""

    settings_model = EmailSettings

    def __init__(self, path: str | Path) -> None:
        self.outbox = Outbox(path, "email")

    @classmethod
    def from_settings(cls, section: EmailSettings, base_dir: Path) -> OutboxEmailSender:
        """The outbox at `outbox_path` (relative to the config file)."""
        return cls(base_dir / section.outbox_path)

    def send(self, to: str, subject: str, body: str) -> None:
        self.outbox.append({"to": to, "subject": subject, "body": body})


class SmtpEmailSender:
    """Sends through an SMTP relay with STARTTLS; a failure is reported, never retried here."""

    settings_model = EmailSettings

    def __init__(self, host: str, port: int, sender: str, username: str, password: str,
                 timeout: float) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.timeout = username, password, timeout

    @classmethod
    def from_settings(cls, e: EmailSettings, base_dir: Path) -> SmtpEmailSender:
        """The relay of the section, with its sender and credentials."""
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

