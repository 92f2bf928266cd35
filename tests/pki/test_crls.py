"""CrlStore: CRLs from files and URLs, kept until nextUpdate, refused when stale or missing."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from connectors.pki import CertificateRefused, CrlStore
from connectors.pki.crls import RETRY_AFTER

START = datetime(2030, 1, 1, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class CrlServer:
    """Serves `body` with `status` at /ca.crl on 127.0.0.1 and counts the requests."""

    body: bytes = b""
    status: int = 200
    requests: int = 0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def server() -> Iterator[CrlServer]:
    state = CrlServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            with state.lock:
                state.requests += 1
            self.send_response(state.status)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/ca.crl"
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def make_crl(issuing_ca):
    def make_crl(next_update: datetime, pem: bool = False) -> bytes:
        crl = issuing_ca.crl(this_update=next_update - timedelta(days=7), next_update=next_update)
        return crl.public_bytes(serialization.Encoding.PEM if pem else serialization.Encoding.DER)
    return make_crl


def reason(store: CrlStore) -> str:
    with pytest.raises(CertificateRefused) as refused:
        store.crls()
    return refused.value.reason


def write(path: Path, data: bytes, mtime: datetime) -> None:
    path.write_bytes(data)
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))


def test_file_crl_is_read_relative_to_base_dir(tmp_path, make_crl):
    crl = make_crl(START + timedelta(days=1))
    (tmp_path / "ca.crl").write_bytes(crl)
    assert CrlStore(["ca.crl"], base_dir=tmp_path, clock=Clock()).crls() == [crl]


def test_pem_crl_is_returned_as_der(tmp_path, make_crl):
    (tmp_path / "ca.pem").write_bytes(make_crl(START + timedelta(days=1), pem=True))
    [der] = CrlStore([str(tmp_path / "ca.pem")], clock=Clock()).crls()
    assert der.startswith(b"\x30")


def test_url_crl_is_cached_until_next_update(server, make_crl):
    clock = Clock()
    old, new = make_crl(START + timedelta(hours=2)), make_crl(START + timedelta(days=2))
    server.body = old
    store = CrlStore([server.url], clock=clock)
    assert store.crls() == [old]
    server.body = new
    clock.now = START + timedelta(hours=1, minutes=59)
    assert store.crls() == [old]
    assert server.requests == 1
    clock.now = START + timedelta(hours=2)
    assert store.crls() == [new]
    assert server.requests == 2


def test_max_age_refreshes_before_next_update(server, make_crl):
    clock = Clock()
    server.body = make_crl(START + timedelta(days=7))
    store = CrlStore([server.url], clock=clock, max_age=timedelta(hours=1))
    store.crls()
    clock.now = START + timedelta(hours=1)
    store.crls()
    assert server.requests == 2


def test_failed_refresh_keeps_a_crl_that_is_still_current(server, make_crl):
    clock = Clock()
    crl = make_crl(START + timedelta(days=7))
    server.body = crl
    store = CrlStore([server.url], clock=clock, max_age=timedelta(hours=1))
    store.crls()
    server.status = 500
    clock.now = START + timedelta(hours=2)
    assert store.crls() == [crl]


def test_stale_crl_is_refused(tmp_path, make_crl):
    path = tmp_path / "ca.crl"
    path.write_bytes(make_crl(START - timedelta(seconds=1)))
    assert reason(CrlStore([str(path)], clock=Clock())) == "revocation_unavailable"


def test_crl_that_goes_stale_in_cache_is_refused(server, make_crl):
    clock = Clock()
    server.body = make_crl(START + timedelta(hours=1))
    store = CrlStore([server.url], clock=clock)
    store.crls()
    # The CA did not publish a new one: the same, now stale, CRL is served again.
    clock.now = START + timedelta(hours=1)
    with pytest.raises(CertificateRefused) as refused:
        store.crls()
    assert refused.value.reason == "revocation_unavailable"
    assert "stale" in refused.value.detail


def test_replaced_file_is_read_again_at_once(tmp_path, make_crl):
    path = tmp_path / "ca.crl"
    old, new = make_crl(START + timedelta(days=1)), make_crl(START + timedelta(days=2))
    write(path, old, START)
    store = CrlStore([str(path)], clock=Clock())
    assert store.crls() == [old]
    write(path, new, START + timedelta(minutes=5))
    assert store.crls() == [new]


@pytest.mark.parametrize("content", [None, b"", b"not a crl"])
def test_missing_or_unreadable_file_is_refused(tmp_path, content):
    path = tmp_path / "ca.crl"
    if content is not None:
        path.write_bytes(content)
    assert reason(CrlStore([str(path)], clock=Clock())) == "revocation_unavailable"


def test_one_bad_source_refuses_them_all(tmp_path, make_crl):
    (tmp_path / "good.crl").write_bytes(make_crl(START + timedelta(days=1)))
    store = CrlStore(["good.crl", "missing.crl"], base_dir=tmp_path, clock=Clock())
    assert reason(store) == "revocation_unavailable"


@pytest.mark.parametrize("status", [404, 500])
def test_http_error_is_refused(server, status):
    server.status = status
    assert reason(CrlStore([server.url], clock=Clock())) == "revocation_unavailable"


def test_unreachable_url_is_refused():
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = CrlStore([f"http://127.0.0.1:{port}/ca.crl"], clock=Clock(), timeout=0.5)
    assert reason(store) == "revocation_unavailable"


def test_failed_download_is_not_retried_on_every_request(server, make_crl):
    clock = Clock()
    server.status = 500
    store = CrlStore([server.url], clock=clock)
    assert reason(store) == reason(store) == "revocation_unavailable"
    assert server.requests == 1
    server.status, server.body = 200, make_crl(START + timedelta(days=1))
    clock.now = START + RETRY_AFTER
    assert store.crls() == [server.body]
    assert server.requests == 2
