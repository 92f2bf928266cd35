#!/usr/bin/env python
"""What encryption at rest adds to a login (issue 19): whole password + OTP logins
in-process (Flask test client, no HTTP), with the time spent inside the personal-data
encryption (idp.store.encrypted: envelopes sealed and opened, blind indexes) measured
around each call, next to the process CPU of the whole login.

The login, from /authorize to the token response and a /userinfo call, looks the account up
by its CCCD's blind index, reads (decrypts) its name, birth date, phones and e-mail for the
OTP step, the session and the claims, and writes nothing personal; each call is counted.

    .venv/bin/python bench/encryption.py [--database postgresql] [--logins 200]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/

from flask.testing import FlaskClient  # noqa: E402

import idp.store.encrypted as encrypted  # noqa: E402
from bench import log  # noqa: E402
from bench.servers import CCCD, PASSWORD, PORTAL, SCOPE, BenchProvider  # noqa: E402
from tests.live import csrf_token, query  # noqa: E402


class CryptoClock:
    """Wraps the module's encrypt, decrypt and blind_index to time and count every call."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls: Counter[str] = Counter()
        for name in ("encrypt", "decrypt", "blind_index"):
            setattr(encrypted, name, self._timed(name, getattr(encrypted, name)))

    def _timed(self, name, function):
        def timed(*args):
            started = time.perf_counter()
            try:
                return function(*args)
            finally:
                self.seconds += time.perf_counter() - started
                self.calls[name] += 1

        return timed


class IssuerClient(FlaskClient):
    """A test client speaking to the provider's issuer origin, where its cookies live."""

    issuer = ""

    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", self.issuer)
        return super().open(*args, **kwargs)


def login(app, client_id: str, secret: str, provider: BenchProvider) -> None:
    """One whole login of the bench account, then /userinfo, in a fresh browser."""
    client = app.test_client()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    location = client.get("/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": PORTAL,
        "scope": SCOPE, "state": "s", "nonce": "n", "code_challenge_method": "S256",
        "code_challenge": challenge.rstrip(b"=").decode()})).headers["Location"]
    tx = query(location)["tx"]
    page = client.get(location).get_data(as_text=True)
    answer = client.post("/login", data={"csrf_token": csrf_token(page), "tx": tx, "cccd": CCCD,
                                         "password": PASSWORD})
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    answer = client.post("/login/otp", data={"csrf_token": csrf_token(page), "tx": tx,
                                             "otp": provider.last_otp()})
    location = client.get(answer.headers["Location"]).headers["Location"]
    if "/consent" in location:
        page = client.get(location).get_data(as_text=True)
        answer = client.post("/consent", data={"csrf_token": csrf_token(page), "decision": "allow",
                                               "tx": query(location)["tx"]})
        location = client.get(answer.headers["Location"]).headers["Location"]
    basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    tokens = client.post("/token", headers={"Authorization": basic}, data={
        "grant_type": "authorization_code", "code": query(location)["code"],
        "redirect_uri": PORTAL, "code_verifier": verifier}).get_json()
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]})
    assert info.get_json()["cccd"] == CCCD, info.get_data(as_text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    from idp import create_app

    directory = Path(tempfile.mkdtemp(prefix="idp-encryption-"))
    bench = BenchProvider(directory, workers=1, threads=1, database=args.database)
    try:
        portal = bench.add_portal("bench-portal")
        client_id, secret = portal.client_id, portal.secret
        bench.add_account()
        app = create_app(bench.settings)
        app.test_client_class = IssuerClient
        IssuerClient.issuer = bench.issuer
        for _ in range(5):  # warm up: consent given, caches filled
            login(app, client_id, secret, bench)
        clock = CryptoClock()
        cpu, crypto = [], []
        for _ in range(args.logins):
            before_crypto, started = clock.seconds, time.process_time()
            login(app, client_id, secret, bench)
            cpu.append(time.process_time() - started)
            crypto.append(clock.seconds - before_crypto)
    finally:
        bench.stop()
    figures = {
        "database": args.database, "logins": args.logins,
        "login_cpu_ms_median": round(statistics.median(cpu) * 1000, 3),
        "encryption_ms_per_login_median": round(statistics.median(crypto) * 1000, 4),
        "encryption_ms_per_login_max": round(max(crypto) * 1000, 4),
        "calls_per_login": {name: count / args.logins for name, count in clock.calls.items()},
    }
    log(f"{args.logins} logins in-process ({args.database}): process CPU per login (argon2id "
        f"included) median {figures['login_cpu_ms_median']} ms; of which personal-data "
        f"encryption median {figures['encryption_ms_per_login_median']} ms (max "
        f"{figures['encryption_ms_per_login_max']} ms); calls per login "
        f"{figures['calls_per_login']}")
    if args.output:
        args.output.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
