"""SMS senders: an outbox file for development and tests, an HTTP gateway for production."""

from __future__ import annotations

import fcntl
import json
import time
from pathlib import Path

import requests

from connectors.base import ConnectorUnavailable


class OutboxSmsSender:
    """Appends one JSON line per message to a file that developers and tests read.

    The file is locked while writing so several workers can share it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_settings(cls, settings) -> OutboxSmsSender:
        return cls(settings.path(settings.sms.outbox_path))

    def send(self, phone: str, text: str) -> None:
        line = json.dumps({"at": time.time(), "to": phone, "text": text}, ensure_ascii=False)
        try:
            with self.path.open("a", encoding="utf-8") as outbox:
                fcntl.flock(outbox, fcntl.LOCK_EX)
                outbox.write(line + "\n")
        except OSError as exc:
            raise ConnectorUnavailable(f"cannot write SMS outbox: {exc}") from exc


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
        try:
            response = self.http.post(
                self.url, json={"to": phone, "text": text}, timeout=self.timeouts
            )
        except requests.RequestException as exc:
            raise ConnectorUnavailable(f"SMS gateway unreachable: {exc}") from exc
        if response.status_code >= 300:
            raise ConnectorUnavailable(f"SMS gateway answered {response.status_code}")


def read_outbox(path: str | Path) -> list[dict]:
    """Every message in an outbox file, oldest first (for the demo and tests)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
