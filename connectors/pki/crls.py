"""Certificate revocation lists from files or URLs, each kept until its nextUpdate.

Validation never fetches anything itself (no network on the login path beyond this):
the store hands it the current CRLs, and refuses — rather than answers "not revoked" —
when one is missing, unreadable or past its nextUpdate.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from asn1crypto import crl, pem

from connectors.pki.refusals import CertificateRefused

log = logging.getLogger(__name__)

# National CAs' CRLs reach a few MB; anything far larger is not a CRL worth parsing.
MAX_CRL_BYTES = 32 * 1024 * 1024
# After a failed download, requests are refused (or served from cache) at once for this
# long instead of each waiting out the timeout while holding the lock.
RETRY_AFTER = timedelta(seconds=30)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Cached:
    der: bytes
    next_update: datetime
    refresh_at: datetime
    mtime_ns: int | None  # files only: a replaced file is read again at once


class CrlStore:
    """Current CRLs from `sources` (paths, relative to `base_dir`, or http(s) URLs).

    Thread-safe; `clock` is injectable for tests. A CRL is read again when it reaches
    nextUpdate, or earlier after `max_age` (CAs publish well before nextUpdate, and a
    token reported lost should be refused soon), and a file also when it changes on disk.
    Until nextUpdate a failed refresh falls back to the CRL already held.
    """

    def __init__(
        self,
        sources: Sequence[str],
        *,
        base_dir: Path = Path("."),
        timeout: float = 5.0,
        max_age: timedelta | None = None,
        clock: Callable[[], datetime] = _now,
        session: requests.Session | None = None,
    ) -> None:
        self._sources = list(sources)
        self._base_dir = base_dir
        self._timeout = timeout
        self._max_age = max_age
        self._clock = clock
        self._session = session or requests.Session()
        self._cache: dict[str, _Cached] = {}
        self._retry_at: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def crls(self) -> list[bytes]:
        """DER of every configured CRL, each current now.

        Raises CertificateRefused("revocation_unavailable") naming the source in `detail`
        when a CRL cannot be had or its nextUpdate has passed.
        """
        with self._lock:
            return [self._current(source).der for source in self._sources]

    def _current(self, source: str) -> _Cached:
        now = self._clock()
        cached = self._cache.get(source)
        is_url = source.startswith(("http://", "https://"))
        mtime_ns = None if is_url else self._mtime_ns(source)
        if cached and now < cached.refresh_at and cached.mtime_ns == mtime_ns:
            return cached
        if is_url and now < self._retry_at.get(source, now):
            failure = CertificateRefused(
                "revocation_unavailable", detail=f"CRL {source}: a download just failed")
        else:
            try:
                fresh = self._load(source, is_url, mtime_ns, now)
            except CertificateRefused as exc:
                failure = exc
                if is_url:
                    self._retry_at[source] = now + RETRY_AFTER
            else:
                self._retry_at.pop(source, None)
                self._cache[source] = fresh
                return fresh
        if cached and now < cached.next_update:
            log.warning("keeping the CRL already held: %s", failure.detail)
            return cached
        raise failure

    def _load(self, source: str, is_url: bool, mtime_ns: int | None, now: datetime) -> _Cached:
        der, next_update = _parse(source, self._fetch(source) if is_url else self._read(source))
        if now >= next_update:
            raise CertificateRefused(
                "revocation_unavailable",
                detail=f"CRL {source} is stale: nextUpdate {next_update.isoformat()}")
        refresh_at = min(next_update, now + self._max_age) if self._max_age else next_update
        return _Cached(der, next_update, refresh_at, mtime_ns)

    def _path(self, source: str) -> Path:
        path = Path(source)
        return path if path.is_absolute() else self._base_dir / path

    def _mtime_ns(self, source: str) -> int | None:
        try:
            return self._path(source).stat().st_mtime_ns
        except OSError:
            return None

    def _read(self, source: str) -> bytes:
        try:
            return self._path(source).read_bytes()
        except OSError as exc:
            raise CertificateRefused(
                "revocation_unavailable", detail=f"CRL {source} unreadable: {exc.strerror}"
            ) from exc

    def _fetch(self, source: str) -> bytes:
        try:
            with self._session.get(source, timeout=self._timeout, stream=True) as response:
                response.raise_for_status()
                data = bytearray()
                # iter_content, unlike response.raw, reports failures as requests errors.
                for chunk in response.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > MAX_CRL_BYTES:
                        raise CertificateRefused(
                            "revocation_unavailable", detail=f"CRL {source} too large")
        except requests.RequestException as exc:
            raise CertificateRefused(
                "revocation_unavailable", detail=f"CRL {source} not downloaded: {exc}"
            ) from exc
        return bytes(data)


def _parse(source: str, data: bytes) -> tuple[bytes, datetime]:
    """DER and nextUpdate of a CRL given as DER or PEM."""
    try:
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        parsed = crl.CertificateList.load(data, strict=True)
        next_update = parsed["tbs_cert_list"]["next_update"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise CertificateRefused(
            "revocation_unavailable", detail=f"CRL {source} is not a DER or PEM CRL"
        ) from exc
    # RFC 5280 §5.1.2.5 makes nextUpdate mandatory; without it freshness is unknowable.
    if next_update is None:
        raise CertificateRefused("revocation_unavailable", detail=f"CRL {source} has no nextUpdate")
    return data, next_update
