"""`idp demo` (the README's first command, after bootstrap) starts everything it promises."""

from __future__ import annotations

import random
import socket
import subprocess
import sys

import requests

from tests.live import REPO, wait_for


def _free_base() -> int:
    """A base port below the ephemeral range with base+1, +2 and +101..+103 free too."""
    for _ in range(50):
        base = random.randrange(20000, 30000)
        ports = [base, base + 1, base + 2, base + 101, base + 102, base + 103]
        try:
            for candidate in ports:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return base
    raise RuntimeError("no free ports for the demo")


def test_demo_starts_provider_portals_and_registries(tmp_path):
    port = _free_base()
    process = subprocess.Popen(
        [sys.executable, "-m", "idp.cli", "demo", "--dir", str(tmp_path / "demo"),
         "--port", str(port)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/readyz", seconds=60)
        ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
        assert ready["status"] == "ready", ready
        for offset in (1, 2):
            home = requests.get(f"http://127.0.0.1:{port + offset}/", timeout=5)
            assert home.status_code == 200 and "Đăng nhập" in home.text
        discovery = requests.get(f"http://127.0.0.1:{port}/.well-known/openid-configuration",
                                 timeout=5).json()
        assert discovery["issuer"] == f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
        print(output[-3000:])
    assert "001085012345 / Hoa-Sen#Ha-Noi-1985" in output  # the banner names the demo login
    assert f"http://127.0.0.1:{port}/helpdesk" in output
