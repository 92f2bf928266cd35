"""Shared pieces of the JSON-over-HTTP registry clients (DESIGN §6).

Every call sends `Authorization: Bearer <api key>`, uses the configured
connect/read timeouts, is logged on the "connectors" logger with its latency
(fields connector, operation, status, ms; never any personal data), and turns
every failure (unreachable, timeout, refused key, 5xx, unexpected status,
malformed JSON) into ConnectorUnavailable. Only idempotent calls are retried,
once, and only when the connection failed before an answer started.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import requests
from prometheus_client import Counter, Histogram
from pydantic import Field

from connectors.base import ConnectorSettings, ConnectorUnavailable

log = logging.getLogger("connectors")
CALLS = Histogram("idp_connector_duration_seconds", "Outside-system call latency",
                  ["connector", "operation"])
ERRORS = Counter("idp_connector_errors_total", "Outside-system calls that failed",
                 ["connector", "operation"])

T = TypeVar("T")


class MalformedAnswer(ValueError):
    """The registry answered JSON that does not follow the wire protocol."""


class JsonHttpClient:
    """A requests session to one outside system, named `system` in logs and errors."""

    def __init__(
        self, system: str, base_url: str, api_key: str, timeouts: tuple[float, float]
    ) -> None:
        self.system = system
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_key}"
        self.session.headers["Accept"] = "application/json"

    def call(
        self,
        operation: str,
        method: str,
        path: str,
        parse: Callable[[int, dict[str, Any]], T],
        *,
        body: Mapping[str, Any] | None = None,
        idempotent: bool = False,
        accept: Collection[int] = (200,),
    ) -> T:
        """Send one request and return `parse(status, json_object)`.

        A status outside `accept` and anything `parse` rejects (KeyError,
        TypeError, ValueError) raise ConnectorUnavailable.
        """
        started = time.perf_counter()
        status: int | str = "error"
        succeeded = False
        try:
            response = self._send(method, path, body, idempotent)
            status = response.status_code
            if status in (401, 403):
                raise self._unavailable(
                    f"refused the API key (HTTP {status}); check [{self.system}] api_key"
                )
            if status not in accept:
                raise self._unavailable(f"answered HTTP {status} to {operation}")
            try:
                data = response.json()
                if not isinstance(data, dict):
                    raise MalformedAnswer("not a JSON object")
                result = parse(status, data)
            except (KeyError, TypeError, ValueError) as exc:
                status = "malformed"
                raise self._unavailable(
                    f"answered {operation} with malformed JSON ({type(exc).__name__})"
                ) from exc
            succeeded = True
            return result
        except requests.RequestException as exc:
            status = type(exc).__name__
            raise self._unavailable(f"gave no answer to {operation} ({status})") from exc
        finally:
            self._log(operation, status, started, succeeded)

    def _send(
        self, method: str, path: str, body: Mapping[str, Any] | None, idempotent: bool
    ) -> requests.Response:
        try:
            return self.session.request(
                method, self.base_url + path, json=body, timeout=self.timeouts
            )
        except requests.ConnectionError as exc:
            # A timed-out call already used the citizen's patience; a dropped
            # keep-alive connection or a restarting server deserves one more try.
            if not idempotent or isinstance(exc, requests.Timeout):
                raise
            log.info("%s: connection failed (%s), retrying once", self.system,
                     type(exc).__name__)
            return self.session.request(
                method, self.base_url + path, json=body, timeout=self.timeouts
            )

    def _unavailable(self, problem: str) -> ConnectorUnavailable:
        # base_url, never the path: paths may carry identifiers such as a BHXH code.
        return ConnectorUnavailable(f"{self.system} at {self.base_url} {problem}",
                                    system=self.system)

    def _log(self, operation: str, status: int | str, started: float, succeeded: bool) -> None:
        elapsed = time.perf_counter() - started
        CALLS.labels(self.system, operation).observe(elapsed)
        if not succeeded:
            ERRORS.labels(self.system, operation).inc()
        ms = round(elapsed * 1000)
        log.log(
            logging.INFO if succeeded else logging.WARNING,
            "connector=%s operation=%s status=%s ms=%d",
            self.system, operation, status, ms,
            extra={"connector": self.system, "operation": operation, "status": status, "ms": ms},
        )


def probe_url(url: str) -> None:
    """Readiness: any HTTP answer from `url` means reachable; only no answer is a failure."""
    requests.get(url, timeout=(1, 2))


class RegistrySettings(ConnectorSettings):
    """An outside registry reached over HTTP (DESIGN §6): JSON, bearer API key, short timeouts."""

    url: str = ""
    api_key: str = ""
    connect_timeout: float = Field(2.0, gt=0, le=30)
    read_timeout: float = Field(5.0, gt=0, le=60)


class HttpConnector:
    """Base of the registry clients: construction from their settings section, readiness."""

    system: ClassVar[str]
    """Name of the system in logs, metrics and the citizen's error message."""
    settings_model: ClassVar[type[RegistrySettings]]

    def __init__(self, base_url: str, api_key: str, timeouts: tuple[float, float]) -> None:
        self.http = JsonHttpClient(self.system, base_url, api_key, timeouts)

    @classmethod
    def from_settings(cls, section: RegistrySettings, base_dir: Path) -> Self:
        """Build from a validated `settings_model` section."""
        return cls(section.url, section.api_key, (section.connect_timeout, section.read_timeout))

    def probe(self) -> None:
        """Readiness: the registry's base URL answers."""
        probe_url(self.http.base_url)


# --- Reading the answer strictly: a field of the wrong type is garbage ------


def json_bool(data: Mapping[str, Any], key: str) -> bool:
    """`data[key]`, which must be true or false."""
    value = data[key]
    if not isinstance(value, bool):
        raise MalformedAnswer(f"{key} is not a boolean")
    return value


def json_str(data: Mapping[str, Any], key: str) -> str:
    """`data[key]`, which must be a non-empty string."""
    value = data[key]
    if not isinstance(value, str) or not value:
        raise MalformedAnswer(f"{key} is not a string")
    return value


def json_optional_str(data: Mapping[str, Any], key: str) -> str | None:
    """`data[key]`, a non-empty string or null (an absent key counts as null)."""
    return None if data.get(key) is None else json_str(data, key)


def json_date(data: Mapping[str, Any], key: str) -> date:
    """`data[key]`, which must be a YYYY-MM-DD date."""
    value = json_str(data, key)
    if len(value) != 10:
        raise MalformedAnswer(f"{key} is not YYYY-MM-DD")
    return date.fromisoformat(value)
