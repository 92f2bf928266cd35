"""SMS senders: an outbox file for development and tests, an HTTP gateway for production."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from connectors.base import ConnectorUnavailable
from connectors.http import CALLS, ERRORS
from connectors.outbox import Outbox, read_outbox

__all__ = ["HttpSmsGateway", "OutboxSmsSender", "read_outbox"]


class OutboxSmsSender:
    """Writes each text to an outbox file instead of sending it (development, demo, tests)."""

    def __init__(self, path: str | Path) -> None:
        self.outbox = Outbox(path, "sms")

    @classmethod
    def from_settings(cls, settings) -> OutboxSmsSender:
        return cls(settings.path(settings.sms.outbox_path))

    def send(self, phone: str, text: str) -> None:
        self.outbox.append({"to": phone, "text": text})


class HttpSmsGateway:
    """POSTs {"to", "text"} as JSON with a bearer API key; sending is not retried."""

    def __init__(self, url: str, api_key: str, timeouts: tuple[float, float]) -> None:
        self.url = url
        self.timeouts = timeouts
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {api_key}"

    @classmethod
    def from_settings(cls, settings) -> HttpSmsGateway:
        sms = settings.sms
        return cls(sms.gateway_url, sms.gateway_api_key, (sms.connect_timeout, sms.read_timeout))

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

