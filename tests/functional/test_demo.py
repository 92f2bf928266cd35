"""`idp demo` (the README's first command, after bootstrap) starts everything it promises."""

from __future__ import annotations

import random
import re
import socket
import subprocess
import sys
import time

import requests

from tests.conftest import csrf_from
from tests.live import REPO, wait_for


def _free_base() -> int:
    """A base port below the ephemeral range with base+1..+3 and +101..+104 free too."""
    for _ in range(50):
        base = random.randrange(20000, 30000)
        ports = [base, base + 1, base + 2, base + 3, base + 101, base + 102, base + 103,
                 base + 104]
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
        wait_for(f"http://127.0.0.1:{port + 4}/", seconds=30)  # the bank's QR-code verifier
        counter = requests.get(f"http://127.0.0.1:{port + 4}/", timeout=5)
        assert counter.status_code == 200 and "Kiểm tra thông tin khách hàng" in counter.text
        _bank_pushes_its_request(port)
        discovery = requests.get(f"http://127.0.0.1:{port}/.well-known/openid-configuration",
                                 timeout=5).json()
        assert discovery["issuer"] == f"http://127.0.0.1:{port}"
        assert ready["checks"]["mssp"] == "ok"
        _register_by_sim(port)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
        print(output[-3000:])
    assert "001085012345 / Hoa-Sen#Ha-Noi-1985" in output  # the banner names the demo login
    assert f"http://127.0.0.1:{port}/helpdesk" in output
    assert f"http://127.0.0.1:{port}/verify" in output and f"http://127.0.0.1:{port + 4}" in output
    assert f"approve +84900000001 --url http://127.0.0.1:{port + 104}" in output


def _bank_pushes_its_request(port: int) -> None:
    """The fapi2 bank is up and registered: its login pushes a request with its key."""
    bank = f"http://127.0.0.1:{port + 3}"
    wait_for(bank + "/", seconds=30)
    assert "Định danh bằng tài khoản định danh quốc gia" in requests.get(bank, timeout=5).text
    start = requests.get(bank + "/login", allow_redirects=False, timeout=10)
    assert start.status_code == 302, start.text
    assert start.headers["Location"].startswith(f"http://127.0.0.1:{port}/authorize?")
    assert "request_uri=urn" in start.headers["Location"]


def _register_by_sim(port: int) -> None:
    """Level 3 works in the demo: a citizen registers with the MSSP simulator's SIM, whose
    certificate the demo's own test PKI issued and the demo's provider trusts."""
    base, phone = f"http://127.0.0.1:{port}", "+84900000001"
    with requests.Session() as browser:

        def go(method: str, path: str, **kwargs) -> requests.Response:
            response = browser.request(method, base + path, timeout=10, **kwargs)
            # Browsers send the demo's Secure cookies to http://127.0.0.1 (a secure
            # context); requests does not, so the jar forgets the flag.
            for cookie in browser.cookies:
                cookie.secure = False
            return response

        assert 'id="method-sim"' in go("GET", "/register/citizen").text
        page = go("GET", "/register/sim/citizen")
        wait = go("POST", "/register/sim/citizen", data={
            "csrf_token": csrf_from(page.text), "t": "citizen", "phone": phone})
        assert wait.status_code == 200, wait.text
        status_url = re.search(r'data-status-url="([^"]+)"', wait.text).group(1)
        subprocess.run([sys.executable, "-m", "connectors.simulators.mssp", "approve", phone,
                        "--url", f"http://127.0.0.1:{port + 104}"], cwd=REPO, check=True,
                       capture_output=True)
        for _ in range(50):
            answer = go("GET", status_url.replace("&amp;", "&")).json()
            if answer["state"] != "running":
                break
            time.sleep(0.1)
        assert answer["state"] == "done", answer
        confirm = go("GET", answer["next"])
        assert confirm.status_code == 200 and "Nguyễn Văn An" in confirm.text
