"""SMS senders: an outbox file for development and tests, an HTTP gateway for production."""

from __future__ import annotations

import time
from pathlib import Path

import requests
from pydantic import Field

from connectors.base import ConnectorSettings, ConnectorUnavailable
from connectors.http import CALLS, ERRORS, probe_url
from connectors.outbox import Outbox, read_outbox

__all__ = ["HttpSmsGateway", "OutboxSmsSender", "SmsSettings", "read_outbox"]


class SmsSettings(ConnectorSettings):
    """One section for both senders, so an operator switches by changing `connector` only."""

    connector: str = "sms.outbox"
    outbox_path: str = "var/sms-outbox.jsonl"
    gateway_url: str = ""
    gateway_api_key: str = ""
    connect_timeout: float = Field(2.0, gt=0)
    read_timeout: float = Field(5.0, gt=0)


class OutboxSmsSender:
    """Writes each text to an outbox file instead of sending it (development, demo, tests)."""

    settings_model = SmsSettings

    def __init__(self, path: str | Path) -> None:
        self.outbox = Outbox(path, "sms")

    @classmethod
    def from_settings(cls, section: SmsSettings, base_dir: Path) -> OutboxSmsSender:
        """The outbox at `outbox_path` (relative to the config file)."""
        return cls(base_dir / section.outbox_path)

    def send(self, phone: str, text: str) -> None:
        self.outbox.append({"to": phone, "text": text})


class HttpSmsGateway:
    """POSTs {"to", "text"} as JSON with a bearer API key; sending is not retried."""

    settings_model = SmsSettings

    def __init__(self, url: str, api_key: str, timeouts: tuple[float, float]) -> None:
        self.url = url
        self.timeouts = timeouts
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {api_key}"

    @classmethod
    def from_settings(cls, section: SmsSettings, base_dir: Path) -> HttpSmsGateway:
        """The gateway at `gateway_url` with its API key and timeouts."""
        return cls(section.gateway_url, section.gateway_api_key,
                   (section.connect_timeout, section.read_timeout))

    def probe(self) -> None:
        """Readiness: the gateway answers."""
        probe_url(self.url)

    def send(self, phone: str, text: str) -> None:
        started = time.perf_counter()
        try:
            try:
                response = self.http.post(
                    self.url, json={"to": phone, "text": text}, timeout=self.timeouts
                )
            except requests.RequestException as exc:
                raise ConnectorUnavailable(f"SMS gateway unreachable: {exc}") from exc
            if response.status_code >= 300:
                raise ConnectorUnavailable(f"SMS gateway answered {response.status_code}")
        except ConnectorUnavailable:
            ERRORS.labels("sms", "send").inc()  # an OTP that did not leave: on the dashboard
            raise
        finally:
            CALLS.labels("sms", "send").observe(time.perf_counter() - started)

