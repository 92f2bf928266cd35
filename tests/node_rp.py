"""panva's openid-client (tests/rp/rp.mjs) as a relying party in its own Node process.

`scripts/bootstrap.sh` installs Node.js when it is missing and runs `npm ci` in
tests/rp from the committed lockfile; where Node 20+ or the packages are missing the
tests that need them are skipped, saying why.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from joserfc.jwk import ECKey

from tests.live import REPO, free_port, wait_for

RP_DIR = REPO / "tests" / "rp"


def node_missing() -> str | None:
    """Why the Node relying party cannot run here, or None when it can."""
    node = shutil.which("node")
    if node is None:
        return "Node.js is not installed (scripts/bootstrap.sh installs it)"
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
    match = re.match(r"v(\d+)", version)
    if not match or int(match.group(1)) < 20:
        return f"openid-client needs Node.js 20 or later, this machine has {version.strip()}"
    if not (RP_DIR / "node_modules" / "openid-client").exists():
        return "tests/rp/node_modules is missing: run scripts/bootstrap.sh (npm ci)"
    return None


def require_node() -> None:
    reason = node_missing()
    if reason:
        pytest.skip(reason)


def client_key(kid: str) -> ECKey:
    """A portal's own ES256 key pair; the provider is given the public half only."""
    return ECKey.generate_key("P-256", {"kid": kid, "alg": "ES256", "use": "sig"})


def public_jwks(*keys: ECKey) -> dict:
    return {"keys": [key.as_dict(private=False) for key in keys]}


class NodeRelyingParty:
    """The openid-client process and its JSON API (see rp.mjs for the steps)."""

    def __init__(self, directory: Path, issuer: str, clients: dict[str, dict]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = directory / "rp.json"
        config.write_text(json.dumps({"issuer": issuer, "port": self.port, "clients": clients}))
        log_path = directory / "rp.log"
        self.process = subprocess.Popen(
            ["node", str(RP_DIR / "rp.mjs"), str(config)],
            stdout=log_path.open("w"), stderr=subprocess.STDOUT, cwd=RP_DIR,
        )
        wait_for(self.url + "/ready", process=self.process, log=log_path)

    def call(self, step: str, **body) -> dict:
        response = requests.post(f"{self.url}/{step}", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
