"""A real front for provider nodes: Debian's HAProxy terminating TLS on loopback with a
certificate from a test CA made here (or plain HTTP, for the fault soak), balancing
requests over the nodes, retrying a request a stopped node refused on another, and taking
a node out when its /readyz fails. It adds X-Forwarded-For (appended) and sets
X-Forwarded-Proto and X-Forwarded-Host: one proxy hop for the provider to trust."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.live import free_port


def haproxy_binary() -> str:
    """HAProxy's binary; skips the test, saying why, when it is not installed."""
    binary = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if binary is None:
        pytest.skip("haproxy not installed (scripts/bootstrap.sh --failover installs it)")
    return binary


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_test_ca(directory: Path) -> tuple[Path, Path]:
    """A CA and a server certificate for 127.0.0.1 and localhost signed by it; returns
    (the CA certificate for clients, the server's certificate + key for HAProxy)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("Test CA")).issuer_name(_name("Test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file, server_file = directory / "test-ca.pem", directory / "server.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    server_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return ca_file, server_file


class HaproxyFront:
    """HAProxy on a free port in front of `backends` (host:port of each node)."""

    def __init__(self, directory: Path, backends: list[str], port: int | None = None, *,
                 tls: bool = True) -> None:
        self.binary = haproxy_binary()
        self.directory = directory
        self.port = port or free_port()
        self.tls = tls
        self.origin = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.ca_file, self.server_pem = make_test_ca(directory) if tls else (None, None)
        self.backends = backends
        self.process: subprocess.Popen | None = None

    def _config(self) -> str:
        servers = "\n".join(
            f"    server node{n} {address} check inter 500ms fall 2 rise 2"
            for n, address in enumerate(self.backends))
        bind = f"127.0.0.1:{self.port}" + (f" ssl crt {self.server_pem}" if self.tls else "")
        proto = "https" if self.tls else "http"
        return f"""global
    maxconn 512

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # A busy node may take longer than the 500 ms between checks to answer /readyz; only a
    # node that does not answer (or answers 503) is taken out.
    timeout check 3s
    option forwardfor
    # A node stopping closes connections it had not started to answer: send those
    # requests to another node (a graceful stop answers every request it began).
    retries 2
    retry-on conn-failure empty-response
    option redispatch

frontend public
    bind {bind}
    http-request set-header X-Forwarded-Proto {proto}
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
{servers}
"""

    def start(self) -> HaproxyFront:
        config = self.directory / "haproxy.cfg"
        config.write_text(self._config())
        subprocess.run([self.binary, "-c", "-q", "-f", str(config)], check=True)  # noqa: S603
        log = (self.directory / "haproxy.log").open("w")
        self.process = subprocess.Popen([self.binary, "-db", "-f", str(config)],  # noqa: S603
                                        stdout=log, stderr=subprocess.STDOUT)
        self.wait_until_serving()
        return self

    def wait_until_serving(self, seconds: float = 30) -> None:
        """Until a request through the front reaches a node (its health checks passed)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if requests.get(self.origin + "/readyz", verify=self.ca_file or True,
                                timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"HAProxy not serving; see {self.directory / 'haproxy.log'}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
