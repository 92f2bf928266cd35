#!/usr/bin/env python
"""Load benchmark of the provider over real HTTP on 127.0.0.1 (DESIGN §8).

Starts `idp serve` (gunicorn) on a free loopback port with a fresh database,
real argon2id parameters (m=19 MiB, t=2, p=1), one registered portal and one
account; logs in through the real pages like a browser; then measures:

  discovery, jwks      cheap GETs served from memory
  userinfo             GET with a bearer access token
  introspect           POST /introspect (RFC 7662, client_secret_basic) of one live access
                       token; every answer must be "active": true
  refresh              token endpoint, refresh_token grant with rotation: every
                       request uses the refresh token the previous one returned,
                       so each connection is one sequential chain
  refresh-dpop         the same with DPoP-bound tokens (RFC 9449): every request carries a
                       fresh ES256 proof of the connection's key with the provider's nonce,
                       which the provider verifies, remembers (jti) and binds to; measured
                       next to a bearer refresh by the same python client
  code                 token endpoint, authorization_code grant with PKCE: every request
                       exchanges its own fresh code, minted just before the load into the
                       provider's state store as /authorize would (codes live ≤ 60 s)
  login                whole password + SMS OTP login, repeated sequentially,
                       next to the bare argon2id verify measured in-process

Each load runs --seconds (after --warmup) with 4 connections, driven by wrk (when
installed) and by a multiprocess keep-alive http.client loop, and reports requests/s,
p50/p99 latency, errors (which must be 0) and the CPU used by the server, the database,
the load generator and anything else on the machine. Results: a table on stdout, JSON in
bench/results/latest.json, and Markdown rows to paste into bench/README.md.

    .venv/bin/python bench/run.py                     # defaults: 10 s, SQLite, 1 sync worker
    .venv/bin/python bench/run.py --wait-idle 900     # first wait for an idle machine
    .venv/bin/python bench/run.py --database postgresql --seconds 5
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import math
import multiprocessing
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

RESULTS = REPO / "bench" / "results"
REFERENCE_DIR = REPO / "bench" / "reference"
TICK = os.sysconf("SC_CLK_TCK")
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"
BENCH_KEK = base64.b64encode(b"bench data key-encryption key 32").decode()
"""The personal-data KEK of the bench provider (a fixed value: benches only)."""
PASSWORD = "Lua-Thu#Ha-Noi-2024"
CCCD = "001085000001"
ARGON2 = {"memory_kib": 19456, "time_cost": 2, "parallelism": 1}
SCOPE = "openid profile phone cccd offline_access"
PORTAL = "http://127.0.0.1:9/callback"  # never contacted: the code is read from the redirect

# Quoted from DESIGN §8 (shared/DESIGN.md), NOT measured by this script.
REFERENCES = {
    "discovery": "node oidc-provider (1 process) 12,000 req/s; Flask \"hello\" on gunicorn "
                 "1 sync worker ≈4,000 req/s",
    "jwks": "node oidc-provider (1 process) 21,000 req/s; Flask \"hello\" on gunicorn "
            "1 sync worker ≈4,000 req/s",
    "userinfo": "DESIGN budget \"a few milliseconds per request\"; Flask \"hello\" on gunicorn "
                "1 sync worker ≈4,000 req/s",
    "refresh": "node oidc-provider (1 process) refresh grant (ES256) ≈2,700 req/s",
    "login": "argon2id m=19 MiB t=2 p=1 ≈21 ms; budget \"a password login costing little "
             "more than its argon2id hash\"",
}


DEFAULT_LOADS = ["discovery", "jwks", "userinfo", "introspect", "refresh", "refresh-dpop",
                 "code", "login"]
CODE_TTL_MAX = 60
"""Authorization codes live at most this long (idp/config.py caps tokens.code_ttl at 60 s)."""
CODE_MINT_MARGIN = 15
"""Seconds of the code TTL kept for minting the codes and starting the load generator."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the provider under test -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float = 60, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback
                return
        except OSError:
            if time.monotonic() > deadline or (process and process.poll() is not None):
                raise
            time.sleep(0.2)


def _terminate(process: subprocess.Popen | None) -> None:
    """Stop a server the benchmark started (SIGTERM, then SIGKILL after 15 s)."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _proc_cpu_ticks(pid: int) -> int:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = raw.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        if int(raw.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def busy_ticks() -> int:
    """Clock ticks the cores have spent running processes since boot, from /proc/stat: user,
    nice, system and steal; not interrupt and softirq time (mostly our own loopback traffic,
    which no process is charged for)."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return values[0] + values[1] + values[2] + values[7]


def machine_busy(seconds: float = 1.0) -> float:
    """Fraction of all cores busy over `seconds` (from /proc/stat), before we add any load."""
    def sample() -> tuple[int, int]:
        values = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values) - idle, sum(values)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_until_idle(limit: float, max_seconds: float) -> float:
    """Wait (up to `max_seconds`) for 3 consecutive seconds under `limit` busy; returns the
    last reading."""
    deadline = time.monotonic() + max_seconds
    quiet = 0
    said = 0.0
    busy = machine_busy()
    while time.monotonic() < deadline:
        quiet = quiet + 1 if busy < limit else 0
        if quiet >= 3:
            break
        if quiet == 0:
            if time.monotonic() - said > 30:
                log(f"waiting for the machine to go idle ({busy:.0%} busy) ...")
                said = time.monotonic()
            time.sleep(4)
        busy = machine_busy()
    return busy


class BenchProvider:
    """Like tests/live.py's LiveProvider, with real argon2id cost and no login throttling.

    The OTP/attempt limits are raised only so that one run's ~40 logins from one
    IP and one phone are not refused; they do not change the cost of a request.
    """

    def __init__(self, directory: Path, *, workers: int, threads: int, database: str) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.orm import Session

        from idp.config import load_settings
        from idp.db import make_engine
        from idp.migrate import upgrade
        from idp.store import data_keys
        from keys import ensure_keys, make_backends

        self.directory = directory
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.database = database
        self.pg_name: str | None = None
        self.redis_prefix: str | None = None
        state = "sql"
        if database == "postgresql":
            self.pg_name = f"idp_bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{self.pg_name}"'))
            admin.dispose()
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.pg_name}"
            state = "redis"
            self.redis_prefix = f"idpbench:{uuid.uuid4().hex[:8]}:"
        else:
            url = "sqlite:///idp.sqlite3"
        self.config = directory / "idp.toml"
        self.config.write_text(
            "[server]\n"
            f'issuer = "{self.issuer}"\nport = {self.port}\n'
            f"workers = {workers}\nthreads = {threads}\n"
            'secret_key = "bench-secret-key-0123456789abcdefghij"\n'
            'pairwise_salt = "bench-pairwise-salt"\n'
            f'[database]\nurl = "{url}"\n'
            f'[state]\nbackend = "{state}"\nredis_url = "{REDIS_URL}"\n'
            f'key_prefix = "{self.redis_prefix or "idp:"}"\n'
            '[keys]\npassphrase = "bench-key-passphrase"\n'
            f'[data]\nkek = "{BENCH_KEK}"\n'
            f"[passwords]\nmemory_kib = {ARGON2['memory_kib']}\n"
            f"time_cost = {ARGON2['time_cost']}\nparallelism = {ARGON2['parallelism']}\n"
            # requests (like curl) never sends a Secure cookie over plain http.
            "[session]\ncookie_secure = false\n"
            # Load from one address and a few phones: lift the caps a crowd would spread.
            '[limits]\n"login.attempts.address" = "1000000 per hour"\n'
            '"sms.login.phone" = "1000000 per hour"\n"sms.login.phone_daily" = "1000000 per day"\n'
            '"sms.login.address" = "1000000 per hour"\n'
            '[sms]\noutbox_path = "sms.jsonl"\n',
            encoding="utf-8",
        )
        self.settings = load_settings(self.config)
        upgrade(self.settings)
        self.engine = make_engine(self.settings.database_url)
        data_keys.bind(self.engine, self.settings)
        with Session(self.engine) as session:
            ensure_keys(session, make_backends(self.settings.keys)["software"])
            session.commit()
        self.process: subprocess.Popen | None = None

    def start(self) -> BenchProvider:
        log_file = (self.directory / "idp.log").open("w")
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "idp.cli", "--config", str(self.config), "serve"],
            stdout=log_file, stderr=subprocess.STDOUT, cwd=REPO,
        )
        try:
            wait_for(f"{self.issuer}/.well-known/openid-configuration", process=self.process)
        except OSError:
            tail = (self.directory / "idp.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the provider did not start; its log ends with:\n{tail}") from None
        return self

    def stop(self) -> None:
        _terminate(self.process)
        self.engine.dispose()
        if hasattr(self, "_admin"):
            self._admin.dispose()
        if self.pg_name:
            from sqlalchemy import create_engine, text

            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)'))
            admin.dispose()
        if self.redis_prefix:
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(self.redis_prefix + "*"):
                client.delete(key)
            client.close()

    def worker_pids(self) -> list[int]:
        return _children(self.process.pid) if self.process else []

    def cpu_ticks(self) -> int:
        """CPU time (clock ticks) used so far by the gunicorn master and its workers."""
        pids = [self.process.pid, *self.worker_pids()]
        return sum(_proc_cpu_ticks(pid) for pid in pids)

    def db_cpu_ticks(self) -> int:
        """CPU time (clock ticks) of the PostgreSQL backends serving our database and of
        redis-server (0 on SQLite, which runs inside the worker)."""
        if not self.pg_name:
            return 0
        from sqlalchemy import create_engine, text

        if not hasattr(self, "_admin"):
            self._admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as connection:
            pids = list(connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                {"name": self.pg_name}).scalars())
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if (entry / "comm").read_text().strip() == "redis-server":
                        pids.append(int(entry.name))
                except OSError:
                    continue
        return sum(_proc_cpu_ticks(pid) for pid in pids)

    def add_portal(self, client_id: str, post_logout_redirect_uris: list[str] | None = None,
                   id_token_alg: str = "RS256") -> tuple[str, str]:  # noqa: S107
        from sqlalchemy.orm import Session

        from idp.clients import ClientRegistration, register_client

        registration = ClientRegistration(
            client_id=client_id, name="Cổng đo tải", redirect_uris=[PORTAL],
            post_logout_redirect_uris=post_logout_redirect_uris or [],
            backchannel_logout_uri=None,
            scopes=["openid", "profile", "phone", "email", "cccd", "offline_access"],
            id_token_alg=id_token_alg,
        )
        with Session(self.engine, expire_on_commit=False) as session:
            _, secret = register_client(session, registration)
        return client_id, secret

    def add_account(self, person: dict | None = None) -> None:
        """The benchmark's account, or `person` (keys as validate_new_account's), with
        PASSWORD."""
        from sqlalchemy.orm import Session

        from idp.accounts import create_account, validate_new_account
        from idp.security.passwords import PasswordHasher

        person = person or {
            "cccd": CCCD, "full_name": "Nguyễn Văn An", "birthdate": "1985-03-15",
            "gender": "male", "phone": "+84911234567", "email": "an@example.vn"}
        data = validate_new_account(person, PASSWORD, 0)
        with Session(self.engine, expire_on_commit=False) as session:
            create_account(session, data, PASSWORD, PasswordHasher(**ARGON2),
                           verified_by="operator")

    def last_otp(self, phone: str | None = None) -> str:
        """The code in the last SMS of the outbox, or in the last one sent to `phone` (E.164):
        concurrent logins of accounts with different phones then never read each other's."""
        import fcntl

        with self.settings.path(self.settings.sms.outbox_path).open(encoding="utf-8") as outbox:
            fcntl.flock(outbox, fcntl.LOCK_SH)  # the provider appends under LOCK_EX
            lines = outbox.read().splitlines()
        message = next(m for m in map(json.loads, reversed(lines))
                       if phone is None or m["to"] == phone)
        return re.search(r"\b(\d{6})\b", message["text"]).group(1)


class ReferenceServer:
    """A server measured side by side with ours (`--reference`): node oidc-provider
    (bench/reference/server.js, its in-memory adapter) or a bare Flask "hello" under the
    provider's gunicorn settings (bench/reference/hello.py). Quacks like BenchProvider for
    the load generators: issuer, port, cpu_ticks() (the process and its children),
    db_cpu_ticks() (0: nothing outside the process)."""

    def __init__(self, name: str, command: list[str], directory: Path, ready_path: str) -> None:
        self.name = name
        self.command = command
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / f"{name}.log"
        self.ready_path = ready_path
        self.process: subprocess.Popen | None = None
        self.info: dict = {}

    def start(self, read_info: bool = False) -> ReferenceServer:
        log_file = self.log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - our own scripts
            [*self.command[:1], *[arg.format(port=self.port) for arg in self.command[1:]]],
            stdout=subprocess.PIPE if read_info else log_file, stderr=log_file,
            cwd=REFERENCE_DIR, text=True,
        )
        try:
            wait_for(self.issuer + self.ready_path, process=self.process)
            if read_info:
                line = ""
                while not line.startswith("{"):
                    line = self.process.stdout.readline()
                    if not line:
                        raise OSError("no start-up line")
                self.info = json.loads(line)
        except OSError:
            self.stop()
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} did not start; its log ends with:\n{tail}") from None
        return self

    def stop(self) -> None:
        _terminate(self.process)

    def cpu_ticks(self) -> int:
        pids = [self.process.pid, *_children(self.process.pid)] if self.process else []
        return sum(_proc_cpu_ticks(pid) for pid in pids)

    def db_cpu_ticks(self) -> int:
        return 0


def node_reference(directory: Path, tokens: int, id_token_alg: str) -> ReferenceServer:
    """oidc-provider from bench/reference (npm ci from the lockfile when node_modules is
    missing), minting `tokens` refresh tokens at start; its client's ID tokens are signed
    with `id_token_alg`, as ours."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        raise RuntimeError("--reference needs node and npm (Node.js 20+)")
    if not (REFERENCE_DIR / "node_modules" / "oidc-provider").exists():
        log("installing the reference (npm ci in bench/reference) ...")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=REFERENCE_DIR,  # noqa: S603
                       check=True, capture_output=True)
    version = json.loads((REFERENCE_DIR / "node_modules" / "oidc-provider" / "package.json")
                         .read_text())["version"]
    server = ReferenceServer(f"node oidc-provider {version}",
                             [node, "server.js", "{port}", str(tokens), id_token_alg],
                             directory,
                             "/.well-known/openid-configuration")
    return server.start(read_info=True)


def flask_hello(directory: Path, workers: int, threads: int) -> ReferenceServer:
    server = ReferenceServer(
        "Flask hello", [sys.executable, "hello.py", "{port}", str(workers), str(threads)],
        directory, "/hello")
    return server.start()


# --- a browser logging in over HTTP --------------------------------------------------------


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


class LoginFailed(RuntimeError):
    pass


@dataclass
class LoginResult:
    tokens: dict
    seconds: float
    password_post: float
    requests: int
    consent: bool
    steps: list[tuple[str, float]]
    """(method and path, seconds) of every HTTP request, in order."""


def browser_login(provider: BenchProvider, client_id: str, secret: str, *, cccd: str = CCCD,
                  password: str = PASSWORD, phone: str | None = None,
                  browser=None) -> LoginResult:
    """authorize → login page → password POST → OTP page → OTP POST → resume
    → (consent, first time only) → code → token exchange; one fresh browser.

    `cccd`, `password` and `phone` log another account in (its OTP is the last SMS sent to
    `phone`); a `browser` (requests.Session) passed in is used and left open, so that its SSO
    session cookie can be used afterwards (e.g. to log out)."""
    import requests

    base = provider.issuer
    own_browser = browser is None
    browser = requests.Session() if own_browser else browser
    count = 0
    steps: list[tuple[str, float]] = []

    def go(method: str, url: str, **kwargs):
        nonlocal count
        count += 1
        url = url if url.startswith("http") else base + url
        t0 = time.perf_counter()
        response = browser.request(method, url, allow_redirects=False, timeout=30, **kwargs)
        steps.append((f"{method} {urlsplit(url).path}", time.perf_counter() - t0))
        if response.status_code >= 400:
            raise LoginFailed(f"{method} {url} -> {response.status_code}: {response.text[:300]}")
        return response

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = {
        "response_type": "code", "client_id": client_id, "redirect_uri": PORTAL,
        "scope": SCOPE, "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
    }
    started = time.perf_counter()
    location = go("GET", "/authorize?" + urlencode(params)).headers["Location"]
    if "/login" not in location:
        raise LoginFailed(f"expected the login page, got {location}")
    tx = _query(location)["tx"]
    page = go("GET", location)
    t0 = time.perf_counter()
    answer = go("POST", "/login", data={"csrf_token": _csrf(page.text), "tx": tx,
                                        "cccd": cccd, "password": password})
    password_post = time.perf_counter() - t0
    if answer.status_code != 303 or "/login/otp" not in answer.headers.get("Location", ""):
        raise LoginFailed(f"password step: {answer.status_code} {answer.text[:300]}")
    page = go("GET", answer.headers["Location"])
    answer = go("POST", "/login/otp", data={"csrf_token": _csrf(page.text), "tx": tx,
                                            "otp": provider.last_otp(phone)})
    if answer.status_code != 303:
        raise LoginFailed(f"OTP step: {answer.status_code} {answer.text[:300]}")
    location = go("GET", answer.headers["Location"]).headers["Location"]
    consent = "/consent" in location
    if consent:
        page = go("GET", location)
        answer = go("POST", "/consent", data={"csrf_token": _csrf(page.text),
                                              "tx": _query(location)["tx"], "decision": "allow"})
        location = go("GET", answer.headers["Location"]).headers["Location"]
    if not location.startswith(PORTAL) or "code" not in _query(location):
        raise LoginFailed(f"expected the portal callback with a code, got {location}")
    response = go("POST", "/token", auth=(client_id, secret), data={
        "grant_type": "authorization_code", "code": _query(location)["code"],
        "redirect_uri": PORTAL, "code_verifier": verifier,
    })
    tokens = response.json()
    elapsed = time.perf_counter() - started
    if "refresh_token" not in tokens or "id_token" not in tokens:
        raise LoginFailed(f"token response without refresh/id token: {tokens}")
    if own_browser:
        browser.close()
    return LoginResult(tokens, elapsed, password_post, count, consent, steps)


def refresh_once(provider: BenchProvider, client_id: str, secret: str, token: str) -> dict:
    import requests

    response = requests.post(provider.issuer + "/token", auth=(client_id, secret), timeout=30,
                             data={"grant_type": "refresh_token", "refresh_token": token})
    response.raise_for_status()
    return response.json()


# --- pre-minted authorization codes (the `code` load) --------------------------------------

CODES_PER_SECOND = 1500
"""Codes minted per second of a `code` load (per tool, per attempt): several times what one
or two workers exchange on this machine (a few hundred per second)."""
CODES_MAX = 30_000
"""At most this many codes per tool and attempt (minting them takes ≈ 13 s on SQLite here,
which the code TTL must leave room for: see CODE_MINT_MARGIN)."""
CODE_FORM = urlencode({"grant_type": "authorization_code", "redirect_uri": PORTAL})
"""The token request's form without code and code_verifier."""


def code_grantee(provider: BenchProvider, tokens: dict):
    """The bench account as one of its real logins left it (auth_time, acr, amr and sid read
    back from the ID token of `tokens`), so that the codes minted for it are what /authorize
    would issue in that SSO session. Each code gets its own grant id when minted."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from idp.oidc.grants import Grantee
    from idp.store.models import Account

    payload = tokens["id_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    with Session(provider.engine) as session:
        account = session.execute(
            select(Account.id, Account.subject).where(Account.cccd_is(CCCD))).one()
    return Grantee(account_id=account.id, subject=account.subject,
                   auth_time=claims["auth_time"], acr=claims["acr"], amr=claims["amr"],
                   sid=claims.get("sid"), grant_id="")


def mint_codes(provider: BenchProvider, client_id: str, count: int,
               grantee) -> list[tuple[str, str]]:
    """`count` fresh authorization codes, each for its own new grant (a new grant id, as
    /authorize gives every code), written into the provider's own state store (SQL or
    Redis, `make_state_store` with the provider's settings) under `code:<sha256 hex of the
    code>` with the provider's code TTL (settings.tokens.code_ttl, at most 60 s: use them
    at once). Returns (code, code_verifier) pairs."""
    from dataclasses import replace

    from authlib.common.security import generate_token

    from idp.oidc.grants import code_key, code_record
    from idp.store.state import make_state_store

    store = make_state_store(provider.settings, provider.engine)
    ttl = provider.settings.tokens.code_ttl
    minted = []
    try:
        for _ in range(count):
            code = generate_token(48)  # what Authlib's generate_authorization_code returns
            verifier = secrets.token_urlsafe(48)
            challenge = base64.urlsafe_b64encode(
                hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            # The provider's own record, as save_authorization_code writes it.
            record = code_record(client_id, PORTAL, SCOPE, secrets.token_urlsafe(8), challenge,
                                 replace(grantee, grant_id=secrets.token_hex(16)))
            store.put(code_key(code), record, ttl)
            minted.append((code, verifier))
    finally:
        if getattr(store, "redis", None) is not None:
            store.redis.close()
    return minted


# --- load generators ----------------------------------------------------------------------


@dataclass
class LoadResult:
    name: str
    tool: str
    concurrency: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu: float | None = None
    """Server (gunicorn master + workers) CPU over the window, in cores (1.0 = one core busy)."""
    client_cpu: float | None = None
    """Load-generator CPU over the window, in cores."""
    db_cpu: float | None = None
    """PostgreSQL backends + Redis over the window, in cores (0 on SQLite: it is in-process)."""
    other_cpu: float | None = None
    """CPU used by everything else on the machine over the window, in cores (other people's
    work skews the figures; a few hundredths are kernel and bookkeeping)."""
    notes: list[str] = field(default_factory=list)


def _percentile(ordered, fraction: float) -> float:
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[index]


def _connection_loop(job: dict, chain_token: str | None, start_at: float, warm_until: float,
                     stop_at: float, out: dict) -> None:
    """One keep-alive connection in a tight loop (reconnects when the server closes).

    job["kind"]: "get" (job["path"]), "refresh" (`chain_token` is the chain's first refresh
    token), "introspect" (POST /introspect with job["body"]; the answer must be active) or
    "code" (`chain_token` is this connection's own list of (code, code_verifier) pairs, each
    exchanged once, in order; job["body"] is the rest of the form)."""
    conn = http.client.HTTPConnection("127.0.0.1", job["port"], timeout=30)
    latencies = array("d")
    errors = 0
    first_error = None
    headers = dict(job.get("headers", {}))
    refresh = chain_token
    codes = iter(chain_token) if job["kind"] == "code" else None
    proofs = DPoPProofs(job["htu"]) if job["kind"] == "refresh-dpop" else None
    used = 0
    while time.monotonic() < start_at:
        time.sleep(0.0005)
    while True:
        t0 = time.monotonic()
        if t0 >= stop_at:
            break
        problem = None
        try:
            if job["kind"] in ("refresh", "refresh-dpop"):
                body = urlencode({"grant_type": "refresh_token", "refresh_token": refresh})
                if proofs is not None:
                    headers["DPoP"] = proofs.next()
                conn.request("POST", "/token", body, headers)
                response = conn.getresponse()
                data = response.read()
                if proofs is not None and proofs.learn(response, data):
                    continue  # the provider's first nonce (RFC 9449 §8): send it, not an error
                if response.status == 200:
                    refresh = json.loads(data)["refresh_token"]
                else:
                    problem = f"HTTP {response.status}: {data[:200]!r}"
            elif job["kind"] == "introspect":
                conn.request("POST", "/introspect", job["body"], headers)
                response = conn.getresponse()
                data = response.read()
                if response.status != 200:
                    problem = f"HTTP {response.status}: {data[:200]!r}"
                elif json.loads(data).get("active") is not True:
                    problem = f"not active: {data[:200]!r}"
            elif job["kind"] == "code":
                pair = next(codes, None)
                if pair is None:
                    errors += 1
                    first_error = first_error or (
                        f"this connection's {used} codes ran out before the end of the load "
                        "(raise --codes-per-second)")
                    break
                used += 1
                body = f"{job['body']}&code={pair[0]}&code_verifier={pair[1]}"
                conn.request("POST", "/token", body, headers)
                response = conn.getresponse()
                data = response.read()
                if response.status != 200:
                    problem = f"HTTP {response.status}: {data[:200]!r}"
                else:
                    answer = json.loads(data)
                    if not answer.get("access_token") or not answer.get("id_token"):
                        problem = f"no access_token / id_token: {data[:200]!r}"
            else:
                conn.request("GET", job["path"], headers=headers)
                response = conn.getresponse()
                data = response.read()
                if response.status != 200:
                    problem = f"HTTP {response.status}: {data[:200]!r}"
        except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            conn.close()
        t1 = time.monotonic()
        if problem is None:
            if t0 >= warm_until:
                latencies.append(t1 - t0)
            continue
        errors += 1  # counted during the warm-up too
        first_error = first_error or problem
        if job["kind"] in ("refresh", "refresh-dpop"):
            break  # the chain's token may already be rotated: going on would be a reuse
    conn.close()
    out.update(latencies=latencies, errors=errors, first_error=first_error,
               refresh=refresh if job["kind"] in ("refresh", "refresh-dpop") else None,
               used=used)


class DPoPProofs:
    """One connection's DPoP key (ES256, as openid-client makes them) and its proofs: a new
    one per request, with the nonce the provider's last answer carried (RFC 9449 §8)."""

    def __init__(self, htu: str) -> None:
        from joserfc.jwk import ECKey

        self.key = ECKey.generate_key("P-256")
        self.header = {"typ": "dpop+jwt", "alg": "ES256",
                       "jwk": self.key.as_dict(private=False)}
        self.htu = htu
        self.nonce: str | None = None

    def next(self) -> str:
        from joserfc import jwt

        claims = {"htm": "POST", "htu": self.htu, "iat": int(time.time()),
                  "jti": base64.urlsafe_b64encode(os.urandom(12)).decode()}
        if self.nonce:
            claims["nonce"] = self.nonce
        return jwt.encode(self.header, claims, self.key, algorithms=["ES256"])

    def learn(self, response, data: bytes) -> bool:
        """Keep the answer's nonce; True when the request must be sent again with it."""
        retry = response.status == 400 and b"use_dpop_nonce" in data and self.nonce is None
        self.nonce = response.getheader("DPoP-Nonce") or self.nonce
        return retry


def _client_process(job: dict, chain_tokens: list, start_at: float, warm_until: float,
                    stop_at: float, queue) -> None:
    """One load-generator process running `connections` threads, one connection each."""
    outs = [{} for _ in chain_tokens]
    threads = [
        threading.Thread(target=_connection_loop,
                         args=(job, token, start_at, warm_until, stop_at, outs[i]))
        for i, token in enumerate(chain_tokens)
    ]
    cpu_at_warm = None

    def cpu_sampler():
        nonlocal cpu_at_warm
        time.sleep(max(0.0, warm_until - time.monotonic()))
        times = os.times()
        cpu_at_warm = times.user + times.system

    sampler = threading.Thread(target=cpu_sampler)
    sampler.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sampler.join()
    times = os.times()
    latencies = array("d")
    for out in outs:
        latencies.extend(out.get("latencies", array("d")))
    queue.put({
        "latencies": latencies,
        "errors": sum(out.get("errors", 1) for out in outs),
        "first_error": next((o["first_error"] for o in outs if o.get("first_error")), None),
        "refresh": [out.get("refresh") for out in outs],
        "used": sum(out.get("used", 0) for out in outs),
        "cpu": times.user + times.system - (cpu_at_warm or 0.0),
    })


def python_load(name: str, provider: BenchProvider, job: dict, *, processes: int,
                connections: int, seconds: float, warmup: float,
                chain_tokens: list[str] | None = None) -> tuple[LoadResult, list[str]]:
    """Run `processes` × `connections` keep-alive loops; returns the result (and, for the
    refresh load, the last refresh token of every chain)."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    job = {**job, "port": provider.port}
    tokens = chain_tokens or [None] * (processes * connections)
    start_at = time.monotonic() + 0.5
    warm_until = start_at + warmup
    stop_at = warm_until + seconds
    procs = [
        ctx.Process(target=_client_process, args=(
            job, tokens[i * connections:(i + 1) * connections], start_at, warm_until, stop_at,
            queue))
        for i in range(processes)
    ]
    for proc in procs:
        proc.start()
    time.sleep(max(0.0, warm_until - time.monotonic()))
    cpu0, db0, all0 = provider.cpu_ticks(), provider.db_cpu_ticks(), busy_ticks()
    time.sleep(max(0.0, stop_at - time.monotonic()))
    cpu1, db1, all1 = provider.cpu_ticks(), provider.db_cpu_ticks(), busy_ticks()
    parts = [queue.get(timeout=seconds + 60) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    latencies = sorted(x for part in parts for x in part["latencies"])
    errors = sum(part["errors"] for part in parts)
    result = LoadResult(
        name=name, tool=f"python http.client ({processes} proc × {connections} conn)",
        concurrency=f"{processes * connections}", requests=len(latencies), seconds=seconds,
        rps=len(latencies) / seconds, p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000, errors=errors,
        server_cpu=(cpu1 - cpu0) / TICK / seconds,
        client_cpu=sum(part["cpu"] for part in parts) / seconds,
    )
    result.db_cpu = (db1 - db0) / TICK / seconds
    result.other_cpu = ((all1 - all0) / TICK / seconds - result.server_cpu - result.client_cpu
                        - result.db_cpu)
    first_error = next((p["first_error"] for p in parts if p["first_error"]), None)
    if first_error:
        result.notes.append(f"first error: {first_error}")
    if job["kind"] == "code":
        result.notes.append(f"{sum(part.get('used', 0) for part in parts)} codes sent, each "
                            f"once, of {sum(len(t) for t in tokens)} minted")
    return result, [token for part in parts for token in part["refresh"]]


_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}

# The refresh grant with rotation under wrk: a pool holding one refresh token per connection;
# each request takes a token out and its response puts the new one back, so every token is
# used exactly once (a reuse would revoke its family and show up as errors).
WRK_REFRESH_LUA = """
local pool = {}
local auth
local threads = {}
final = ""

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  auth = args[1]
  for i = 2, #args do pool[#pool + 1] = args[i] end
end

local verified = false

local function refresh_request(token)
  return wrk.format("POST", "/token", {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "grant_type=refresh_token&refresh_token=" .. token)
end

function request()
  -- wrk 4.x calls request() once right after init() to check the request, and never sends
  -- that one: it must not take a token out of the pool.
  if not verified then
    verified = true
    return refresh_request("never-sent")
  end
  local token = table.remove(pool, 1) or "pool-empty"
  final = table.concat(pool, " ")
  return refresh_request(token)
end

function response(status, headers, body)
  if status == 200 then
    local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if token then pool[#pool + 1] = token end
  end
  final = table.concat(pool, " ")
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write("FINAL_TOKENS " .. (thread:get("final") or "") .. "\\n")
  end
end
"""


# Introspection under wrk: one POST with one access token, the same for every request; an
# answer that is not `"active": true` is counted (INACTIVE lines) and reported as an error.
WRK_INTROSPECT_LUA = """
local threads = {}
inactive = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.path = "/introspect"
  wrk.headers["Authorization"] = args[1]
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.body = "token=" .. args[2]
end

function response(status, headers, body)
  if status == 200 and not body:find('"active"%s*:%s*true') then
    inactive = inactive + 1
  end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write("INACTIVE " .. tostring(thread:get("inactive") or 0) .. "\\n")
  end
end
"""

# The authorization-code grant under wrk: codes pre-minted into the state store (see
# mint_codes), one "code verifier" pair per line of a file; thread k of n takes the lines
# k, k+n, k+2n, ... so no two threads share a code, and each request() takes the next pair of
# its thread: every code is sent at most once (a reused one would be refused with
# invalid_grant and revoke its grant: a non-2xx answer, an error). A 200 answer without an
# access_token and an id_token is counted (CODE_STATS) and reported as an error.
WRK_CODE_LUA = """
local threads = {}
local counter = 0
local pairs_ = {}
local next_pair = 1
local auth, form
local verified = false
used, bad, empty = 0, 0, 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  auth, form = args[1], args[2]
  local n, i = tonumber(args[4]), 0
  for line in io.lines(args[3]) do
    if i % n == id then pairs_[#pairs_ + 1] = line end
    i = i + 1
  end
end

local function code_request(code, verifier)
  return wrk.format("POST", "/token", {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, form .. "&code=" .. code .. "&code_verifier=" .. verifier)
end

function request()
  -- wrk 4.x calls request() of its first thread once right after init() to check the
  -- request, and never sends that one: it must not take a code.
  if id == 0 and not verified then
    verified = true
    return code_request("never-sent", "never-sent")
  end
  local line = pairs_[next_pair]
  next_pair = next_pair + 1
  if not line then
    empty = empty + 1
    return code_request("pool-empty", "pool-empty")
  end
  used = used + 1
  local code, verifier = line:match("^(%S+) (%S+)$")
  return code_request(code, verifier)
end

function response(status, headers, body)
  if status == 200 and not (body:find('"access_token"', 1, true)
                            and body:find('"id_token"', 1, true)) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write(string.format("CODE_STATS %d %d %d %d\\n", thread:get("id"),
      thread:get("used") or 0, thread:get("bad") or 0, thread:get("empty") or 0))
  end
end
"""


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(match.group(1)) * _WRK_UNITS[match.group(2)]


def wrk_load(name: str, provider: BenchProvider, path: str, headers: dict, *, threads: int,
             connections: int, seconds: float, warmup: float, script: Path | None = None,
             script_args: list[str] | None = None,
             warm_with_script: bool = False) -> tuple[LoadResult, str]:
    """Run wrk; returns the result and wrk's output. No warm-up for a script load (its
    tokens or codes are used once) unless `warm_with_script` (the script's requests can be
    repeated, e.g. introspection of one token)."""
    url = provider.issuer + path
    header_args = [arg for key, value in headers.items() for arg in ("-H", f"{key}: {value}")]
    common = ["wrk", f"-t{threads}", f"-c{connections}", *header_args]
    tail = [url] if script is None else ["-s", str(script), url, "--", *(script_args or [])]
    if warmup > 0 and (script is None or warm_with_script):
        subprocess.run([*common, f"-d{max(1, round(warmup))}s", *tail],  # noqa: S603
                       capture_output=True, check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0, db0, all0 = provider.cpu_ticks(), provider.db_cpu_ticks(), busy_ticks()
    t0 = time.monotonic()
    out = subprocess.run([*common, f"-d{max(1, round(seconds))}s", "--latency",  # noqa: S603
                          *tail], capture_output=True, text=True, check=True).stdout
    wall = time.monotonic() - t0
    cpu1, db1, all1 = provider.cpu_ticks(), provider.db_cpu_ticks(), busy_ticks()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", out).group(1))
    duration = _wrk_ms(re.search(r"requests in ([\d.]+\w+)", out).group(1)) / 1000
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    notes = []
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
        notes.append("wrk: " + socket_errors.group(0))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
        notes.append("wrk: " + non2xx.group(0))
    result = LoadResult(
        name=name, tool=f"wrk -t{threads} -c{connections}" + (" + Lua" if script else ""),
        concurrency=str(connections), requests=total, seconds=duration, rps=total / duration,
        p50_ms=_wrk_ms(latency["50"]), p99_ms=_wrk_ms(latency["99"]), errors=errors,
        server_cpu=(cpu1 - cpu0) / TICK / wall,
        client_cpu=(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / wall,
        notes=notes,
    )
    result.db_cpu = (db1 - db0) / TICK / wall
    result.other_cpu = ((all1 - all0) / TICK / wall - result.server_cpu - result.client_cpu
                        - result.db_cpu)
    return result, out


# --- profiling (optional) -----------------------------------------------------------------


def py_spy_profile(provider: BenchProvider, name: str, run_load, seconds: float) -> dict | None:
    """Sample the gunicorn worker with py-spy while `run_load()` runs; write collapsed stacks
    and print the functions where most time is spent (inclusive)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        log("py-spy not installed (.venv/bin/pip install py-spy): profile skipped")
        return None
    workers = provider.worker_pids()
    if len(workers) != 1:
        log("profiling needs exactly one worker: skipped")
        return None
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"profile-{name}.txt"
    target.unlink(missing_ok=True)
    spy_proc = subprocess.Popen(  # noqa: S603
        [spy, "record", "-p", str(workers[0]), "-d", str(int(seconds)), "-r", "250",
         "--format", "raw", "-o", str(target), "--nonblocking"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    time.sleep(0.5)
    run_load()
    output, _ = spy_proc.communicate(timeout=seconds + 60)
    if not target.exists():
        log(f"py-spy failed: {output.strip()[-500:]}")
        return None
    return {"file": str(target.relative_to(REPO)), **summarize_profile(target)}


PROFILE_CATEGORIES = [
    # (what, substrings of a frame's file): a sample goes to the first category, from the
    # innermost frame outwards, that one of its frames belongs to.
    ("JWT sign/verify (joserfc + cryptography)", ("joserfc/", "cryptography/")),
    ("database + state store (SQLAlchemy, driver)",
     ("sqlalchemy/", "sqlite3/", "psycopg/", "redis/")),
    ("Authlib (OAuth 2 request handling)", ("authlib/",)),
    ("provider code (idp/, keys/)", ("/idp/", "idp/", "keys/")),
    ("Flask / Werkzeug / Jinja", ("flask/", "werkzeug/", "jinja2/", "itsdangerous/",
                                  "flask_wtf/")),
    ("gunicorn (accept, parse, write, close)", ("gunicorn/",)),
]


def summarize_profile(path: Path, top: int = 12) -> dict:
    """Where the worker's samples went: by category, and the provider's own functions."""
    categories: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.strip().isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        category = "other (stdlib, interpreter)"
        for frame in reversed(frames):
            where = frame.rsplit("(", 1)[-1]
            match = next((name for name, parts in PROFILE_CATEGORIES
                          if any(part in where for part in parts)), None)
            if match:
                category = match
                break
        categories[category] = categories.get(category, 0) + n
        for frame in set(frames):
            where = frame.rsplit("(", 1)[-1]
            if where.startswith(("idp/cli/", "idp/serve.py")):
                continue  # the entry point, at the root of every stack
            if where.startswith(("idp/", "keys/")) or "/idp/" in where or "/keys/" in where:
                name = frame.rsplit(":", 1)[0] + ")"
                own[name] = own.get(name, 0) + n
    if not total:
        return {}
    log(f"profile {path.name}: {total} samples of the busy worker, by innermost known layer:")
    for name, n in sorted(categories.items(), key=lambda item: -item[1]):
        print(f"    {n / total:6.1%}  {name}")
    log("  provider functions, inclusive (a sample counts once per function on its stack):")
    merged: dict[str, int] = {}
    for name, n in own.items():
        merged[name] = max(merged.get(name, 0), n)
    for name, n in sorted(merged.items(), key=lambda item: -item[1])[:top]:
        print(f"    {n / total:6.1%}  {name}")
    return {"samples": total,
            "categories": {k: round(v / total, 4) for k, v in categories.items()},
            "provider_functions": {k: round(v / total, 4) for k, v in
                                   sorted(merged.items(), key=lambda item: -item[1])[:top]}}


# --- bytes per SSO session in Redis (--only session-size) ---------------------------------


def session_size(portals: int = 3) -> dict:
    """What one SSO session costs in Redis: the record exactly as idp/sessions.py stores it
    (RedisStateStore.put of SsoSession.to_record() under sso:<sid>, plus the sid in the
    account's acct-sessions set), measured with STRLEN and MEMORY USAGE, then removed."""
    import redis

    from idp.sessions import SsoSession
    from idp.store.redis_state import RedisStateStore

    prefix = f"idpbench:{uuid.uuid4().hex[:8]}:"
    store = RedisStateStore(REDIS_URL, prefix=prefix)
    raw = redis.Redis.from_url(REDIS_URL)
    try:
        now = int(time.time())
        session = SsoSession(
            sid=secrets.token_urlsafe(24), account_id=12_345_678, auth_time=now,
            acr="urn:vn:sso:loa:3", amr=["pwd", "otp"], expires=now + 8 * 3600 + 0.5,
            clients=[f"cong-dich-vu-{name}" for name in ("thue", "bhxh", "dat-dai")][:portals],
        )
        store.put(f"sso:{session.sid}", session.to_record(), 1800)
        store.add_member(f"acct-sessions:{session.account_id}", session.sid, 8 * 3600)
        record_key = prefix + f"sso:{session.sid}"
        set_key = prefix + f"acct-sessions:{session.account_id}"
        # A second session of the same account: what one more member adds to the set.
        store.add_member(f"acct-sessions:{session.account_id}", secrets.token_urlsafe(24),
                         8 * 3600)
        set_two = raw.memory_usage(set_key, samples=0)
        raw.srem(set_key, *[m for m in raw.smembers(set_key) if m.decode() != session.sid])
        result = {
            "portals": portals,
            "record_json_bytes": raw.strlen(record_key),
            "record_key_bytes": len(record_key.encode()) - len(prefix) + len("idp:"),
            "record_memory_usage": raw.memory_usage(record_key, samples=0),
            "set_memory_usage_one_member": raw.memory_usage(set_key, samples=0),
            "set_memory_usage_two_members": set_two,
            "redis_version": raw.info("server")["redis_version"],
        }
        result["per_session_bytes"] = (result["record_memory_usage"]
                                       + result["set_memory_usage_one_member"])
        return result
    finally:
        for key in raw.scan_iter(prefix + "*"):
            raw.delete(key)
        raw.close()
        store.redis.close()


# --- floors of the stack (--reference) ---------------------------------------------------
# What the cheapest conceivable version of a flow would cost under the same server, to show
# how much of a target is left for the work itself once the server and the durable writes
# are paid for.


def sequential_request_cpu(server: ReferenceServer, path: str, count: int = 800) -> float:
    """Server CPU (ms) per request of `count` GETs sent one at a time by one requests.Session,
    as the login's browser sends its requests."""
    import requests

    with requests.Session() as browser:
        for _ in range(50):
            browser.get(server.issuer + path, timeout=10)
        cpu0 = server.cpu_ticks()
        for _ in range(count):
            browser.get(server.issuer + path, timeout=10).raise_for_status()
        return (server.cpu_ticks() - cpu0) / TICK * 1000 / count


def rotation_floor(provider: BenchProvider, client_id: str, count: int = 2000) -> dict:
    """CPU (ms) of the parts of one refresh that no implementation on this database can skip,
    run in this process against the provider's database: the durable rotation (claim the
    presented token, read the account, insert its successor, commit: the provider's own
    statements from idp.oidc.grants, on a connection from a pool like the provider's) and
    two ES256 signatures (access token and ID token, joserfc as the provider)."""
    from joserfc import jwt
    from joserfc.jwk import ECKey
    from sqlalchemy import select

    from idp.db import make_engine
    from idp.oidc.grants import ACTIVE_ACCOUNT, CLAIM_REFRESH_TOKEN, INSERT_REFRESH_TOKEN, digest
    from idp.store import data_keys
    from idp.store.models import Account

    engine = make_engine(provider.settings.database_url)
    data_keys.bind(engine, provider.settings)
    try:
        with engine.begin() as connection:
            account_id = connection.execute(
                select(Account.id).where(Account.cccd_is(CCCD))).scalar()

        def successor(token: str) -> dict:
            now = time.time()
            return {"token_digest": digest(token), "family_id": "bench-floor-" + token[:8],
                    "client_id": client_id, "account_id": account_id, "scope": SCOPE,
                    "sid": None, "auth_time": int(now), "acr": "loa:2", "amr": ["pwd", "otp"],
                    "issued_at": now, "expires_at": now + 3600, "rotated_at": None,
                    "revoked_at": None}

        token = secrets.token_urlsafe(32)
        with engine.begin() as connection:
            connection.execute(INSERT_REFRESH_TOKEN, successor(token))
        cpu0, db0 = time.process_time(), provider.db_cpu_ticks()
        for _ in range(count):
            with engine.begin() as connection:
                claimed = connection.execute(
                    CLAIM_REFRESH_TOKEN, {"digest": digest(token), "now": time.time()}).first()
                if claimed is None:
                    raise RuntimeError("the floor's own refresh token could not be claimed")
                connection.execute(ACTIVE_ACCOUNT, {"account_id": account_id}).first()
                token = secrets.token_urlsafe(32)
                connection.execute(INSERT_REFRESH_TOKEN, successor(token))
        rotation = (time.process_time() - cpu0) * 1000 / count
        rotation_db = (provider.db_cpu_ticks() - db0) / TICK * 1000 / count
    finally:
        engine.dispose()
    key = ECKey.generate_key("P-256")
    now = int(time.time())
    claims = {"iss": provider.issuer, "sub": "s" * 43, "aud": client_id, "iat": now,
              "exp": now + 300, "jti": "j" * 22, "scope": SCOPE, "auth_time": now,
              "acr": "loa:2", "amr": ["pwd", "otp"]}
    cpu0 = time.process_time()
    for _ in range(count):
        for typ in ("at+jwt", "JWT"):
            jwt.encode({"alg": "ES256", "kid": "k", "typ": typ}, claims, key,
                       algorithms=["ES256"])
    signatures = (time.process_time() - cpu0) * 1000 / count
    return {"rotation_ms": rotation, "rotation_db_ms": rotation_db,
            "signatures_ms": signatures}


# --- the in-process argon2id reference ----------------------------------------------------


def bare_argon2(repeats: int) -> list[float]:
    import argon2

    hasher = argon2.PasswordHasher(memory_cost=ARGON2["memory_kib"],
                                   time_cost=ARGON2["time_cost"],
                                   parallelism=ARGON2["parallelism"], type=argon2.Type.ID)
    stored = hasher.hash(PASSWORD)
    times = []
    for _ in range(repeats):
        t0 = time.process_time()  # CPU time: what the hash costs the worker that runs it
        hasher.verify(stored, PASSWORD)
        times.append(time.process_time() - t0)
    return times


# --- reporting ----------------------------------------------------------------------------


def comparison_line(result: LoadResult, workers: int) -> str:
    where = f"{workers} worker" + ("s" if workers > 1 else "")
    return (f"{result.name}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms on {where} "
            f"[{result.tool}] — reference: {REFERENCES[result.name]} "
            "(quoted from DESIGN §8, not measured here)")


def _per_request_ms(result: LoadResult) -> float | None:
    return result.server_cpu * 1000 / result.rps if result.server_cpu and result.rps else None


def dpop_comparison(results: list[LoadResult]) -> str | None:
    """A DPoP-bound refresh next to a bearer one, both driven by the python client."""
    dpop = next((r for r in results if r.name == "refresh-dpop"), None)
    bearer = next((r for r in results if r.name == "refresh" and r.tool.startswith("python")),
                  None)
    if dpop is None or bearer is None or not dpop.rps or not bearer.rps:
        return None
    line = (f"refresh-dpop: {dpop.rps:,.0f} req/s, p50 {dpop.p50_ms:.2f} ms next to a bearer "
            f"refresh's {bearer.rps:,.0f} req/s, p50 {bearer.p50_ms:.2f} ms "
            f"({dpop.rps / bearer.rps:.0%} of its rate) [{dpop.tool}]")
    mine, theirs = _per_request_ms(dpop), _per_request_ms(bearer)
    if mine and theirs:
        line += (f"; server CPU {mine:.2f} ms per request against {theirs:.2f} ms "
                 f"(+{mine - theirs:.2f} ms for the proof: its signature, the nonce, the jti "
                 "and the binding)")
    return line


def measured_comparisons(ours: list[LoadResult], refs: list[LoadResult],
                         floors: dict) -> list[str]:
    """Ours against the references measured in the same run with the same tool; for the
    refresh, also what its unavoidable parts (`floors`) cost next to node's whole refresh."""
    def find(name: str, tool: str) -> LoadResult | None:
        return next((r for r in refs if r.name == name and r.tool == tool), None)

    def figure(r: LoadResult) -> str:
        per = _per_request_ms(r)
        return f"{r.rps:,.0f} req/s ({per:.2f} ms CPU/req)" if per else f"{r.rps:,.0f} req/s"

    lines = []
    for r in ours:
        if r.name not in ("discovery", "jwks", "refresh"):
            continue
        parts = [f"{r.name} [{r.tool}]: ours {figure(r)}"]
        hello = find("Flask hello", r.tool) if r.name != "refresh" else None
        if hello and hello.rps:
            parts.append(f"Flask hello {figure(hello)} → ours = {r.rps / hello.rps:.0%} of "
                         f"hello's req/s (target ≥ 80 %: "
                         f"{'met' if r.rps >= 0.8 * hello.rps else 'NOT met'})")
        node = find(f"node {r.name}", r.tool)
        if node and node.rps:
            ratio = ""
            mine, theirs = _per_request_ms(r), _per_request_ms(node)
            if mine and theirs:
                ratio = f"; per request ours costs {mine / theirs:.1f}× node's CPU"
            parts.append(f"node oidc-provider {figure(node)} → ours = {r.rps / node.rps:.0%} "
                         f"of node's req/s{ratio}")
            hello = find("Flask hello", r.tool)
            if r.name == "refresh" and theirs and hello and "rotation_ms" in floors:
                floor = (_per_request_ms(hello) + floors["rotation_ms"]
                         + floors["rotation_db_ms"] + floors["signatures_ms"])
                parts.append(
                    f"floor of any refresh on this server and database: Flask hello "
                    f"{_per_request_ms(hello):.2f} + durable rotation "
                    f"{floors['rotation_ms'] + floors['rotation_db_ms']:.2f} + two ES256 "
                    f"signatures {floors['signatures_ms']:.2f} = {floor:.2f} ms = "
                    f"{floor / theirs:.0%} of node's whole refresh (in memory), before "
                    "parsing, client authentication, grant checks and the response")
        if len(parts) > 1:
            lines.append(" — ".join(parts))
    return lines


def print_table(results: list[LoadResult]) -> None:
    head = (f"{'load':<14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
            f"{'srv CPU':>7} {'srv ms/req':>10} {'db CPU':>6} {'cli CPU':>7} {'other':>6}  tool")
    print(head)
    print("-" * len(head) + "-" * 30)
    for r in results:
        srv = f"{r.server_cpu:.2f}" if r.server_cpu is not None else "-"
        cli = f"{r.client_cpu:.2f}" if r.client_cpu is not None else "-"
        per = f"{r.server_cpu * 1000 / r.rps:.2f}" if r.server_cpu and r.rps else "-"
        other = f"{r.other_cpu:.2f}" if r.other_cpu is not None else "-"
        flag = " DISTURBED" if any(n.startswith("DISTURBED") for n in r.notes) else ""
        db = f"{r.db_cpu:.2f}" if r.db_cpu is not None else "-"
        print(f"{r.name:<14} {r.rps:>8,.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.errors:>6} "
              f"{srv:>7} {per:>10} {db:>6} {cli:>7} {other:>6}  {r.tool}{flag}")


def markdown_rows(results: list[LoadResult], login: dict | None, meta: dict) -> str:
    date = meta["date"][:10]
    setup = f"{meta['database']}, {meta['workers']}w×{meta['threads']}t"
    lines = [
        f"<!-- bench/run.py {meta['date']} on {meta['cpus']} cores, {setup}, "
        f"{meta['seconds']} s per load -->",
        "| date | setup | load | tool | req/s | p50 ms | p99 ms | errors "
        "| server CPU ms/req | other work (cores) |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        per = f"{r.server_cpu * 1000 / r.rps:.2f}" if r.server_cpu and r.rps else "-"
        flag = " ⚠ disturbed" if any(n.startswith("DISTURBED") for n in r.notes) else ""
        lines.append(f"| {date} | {setup} | {r.name} | {r.tool} | {r.rps:,.0f} | "
                     f"{r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} | {per} | "
                     f"{r.other_cpu:.2f}{flag} |")
    if login:
        lines.append(
            f"| {date} | {setup} | login (pwd+OTP, {login['count']}× sequential) | "
            f"requests.Session, {login['http_requests']} HTTP requests each | "
            f"{1000 / login['median_ms']:,.1f} logins/s | {login['median_ms']:.1f} | "
            f"{login['p99_ms']:.1f} | {login['errors']} | "
            f"{login['server_cpu_ms_per_login']:.1f} | {login['other_cpu']:.2f} |")
        lines.append(
            f"| {date} | {setup} | argon2id verify in-process (m=19 MiB t=2 p=1) | "
            f"argon2-cffi, median of {login['argon2_count']} | - | "
            f"{login['argon2_median_ms']:.1f} | - | 0 | - | - |")
    return "\n".join(lines)


# --- the run ------------------------------------------------------------------------------


def progress(result: LoadResult) -> None:
    log(f"  {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
        f"errors {result.errors}, server CPU {result.server_cpu:.2f} cores "
        f"({result.server_cpu * 1000 / max(result.rps, 1e-9):.2f} ms per request), "
        f"database CPU {result.db_cpu:.2f}, client CPU {result.client_cpu:.2f}, "
        f"other work {result.other_cpu:.2f} cores. "
        f"{' '.join(result.notes)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per load")
    parser.add_argument("--warmup", type=float, default=1, help="unmeasured seconds before each")
    parser.add_argument("--clients", type=int, default=2,
                        help="load-generator processes of the python client")
    parser.add_argument("--connections", type=int, default=2,
                        help="connections per client process; refresh chains = clients × this")
    parser.add_argument("--wrk-threads", type=int, default=1,
                        help="wrk threads (one is enough to drive a single worker)")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per worker (1 = gunicorn sync worker)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite",
                        help="postgresql = a fresh database on 127.0.0.1:5432 + Redis db 14 "
                             "for state, both removed afterwards")
    parser.add_argument("--logins", type=int, default=30, help="timed sequential logins")
    parser.add_argument("--get-tool", choices=["auto", "wrk", "python", "both"], default="auto",
                        help="load generator(s) for the HTTP loads (auto: both wrk and "
                             "the python client when wrk is installed, else python)")
    parser.add_argument("--only", default=",".join(DEFAULT_LOADS),
                        help="comma-separated subset of " + ",".join(DEFAULT_LOADS) +
                             ",session-size (not in the default: bytes of one SSO session in "
                             "Redis)")
    parser.add_argument("--codes-per-second", type=float, default=CODES_PER_SECOND,
                        help="authorization codes minted per second of the code load "
                             f"(warm-up included), at most {CODES_MAX:,} per tool; they expire "
                             "after the provider's code TTL (≤ 60 s), so with code in --only, "
                             f"--warmup + --seconds must be at most "
                             f"{CODE_TTL_MAX - CODE_MINT_MARGIN} s")
    parser.add_argument("--profile", action="store_true",
                        help="afterwards, sample the worker with py-spy under refresh, userinfo "
                             "and login load (not part of the reported figures)")
    parser.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                        help="first wait up to this long for the machine to be idle "
                             "(<10%% busy for 3 s): other work on it skews the figures")
    parser.add_argument("--other-limit", type=float, default=0.15, metavar="CORES",
                        help="a load during which other work on the machine used more CPU "
                             "than this is measured again")
    parser.add_argument("--retries", type=int, default=3,
                        help="how many times a disturbed load is measured again")
    parser.add_argument("--id-token-alg", choices=["RS256", "ES256"], default="RS256",
                        help="the bench portal's registered ID token algorithm (OIDC's default "
                             "RS256, or ES256 as DESIGN §8's reference figure); the node "
                             "reference is configured the same way")
    parser.add_argument("--reference", action="store_true",
                        help="also run the same discovery, jwks and refresh loads against "
                             "node oidc-provider (bench/reference, npm ci when needed) and "
                             "a bare Flask hello under the same gunicorn settings")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json",
                        help="where to write the results as JSON")
    parser.add_argument("--no-save", action="store_true", help="do not write the JSON")
    args = parser.parse_args(argv)
    # Stopped with kill (SIGTERM): still stop the provider and drop its database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    loads = set(args.only.split(","))
    unknown = loads - {*DEFAULT_LOADS, "session-size"}
    if unknown:
        parser.error(f"unknown load(s) in --only: {', '.join(sorted(unknown))}")
    if "code" in loads and args.warmup + args.seconds > CODE_TTL_MAX - CODE_MINT_MARGIN:
        parser.error(f"the code load uses codes minted just before it, which live at most "
                     f"{CODE_TTL_MAX} s (settings.tokens.code_ttl): --warmup + --seconds must "
                     f"be at most {CODE_TTL_MAX - CODE_MINT_MARGIN:g} s")
    tool = args.get_tool
    have_wrk = shutil.which("wrk") is not None
    if tool == "auto":
        tool = "both" if have_wrk else "python"
    if tool in ("wrk", "both") and not have_wrk:
        parser.error("wrk is not installed (apt-get install wrk)")
    get_tools = ["wrk", "python"] if tool == "both" else [tool]
    processes, per_process = args.clients, args.connections
    concurrency = processes * per_process

    if "session-size" in loads:
        size = session_size()
        log(f"SSO session with {size['portals']} portals in Redis {size['redis_version']}: "
            f"record {size['record_json_bytes']} bytes of JSON under a "
            f"{size['record_key_bytes']}-byte key, MEMORY USAGE {size['record_memory_usage']} "
            f"bytes; the account's session set {size['set_memory_usage_one_member']} bytes "
            f"with one member ({size['set_memory_usage_two_members']} with two)")
        verdict = "met" if size["per_session_bytes"] < 1024 else "NOT met"
        print(f"session-size: {size['per_session_bytes']} bytes per SSO session in Redis "
              f"(record + account set, MEMORY USAGE) — target < 1 KB (1,024 bytes): {verdict}")
        if not args.no_save:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            out = args.output if args.only == "session-size" else RESULTS / "session-size.json"
            out.write_text(json.dumps({"date": datetime.now(UTC).isoformat(timespec="seconds"),
                                       "session_size": size}, indent=2) + "\n")
            log(f"wrote {out}")
        loads.discard("session-size")
        if not loads:
            return 0

    directory = Path(tempfile.mkdtemp(prefix="idp-bench-"))
    load_before = os.getloadavg()[0]
    busy_before = (wait_until_idle(0.10, args.wait_idle) if args.wait_idle
                   else machine_busy())
    log(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{busy_before:.0%} busy before the run (load average {load_before:.2f}); "
        f"working in {directory}")
    if busy_before > 0.10:
        log("WARNING: the machine is not idle: other work competes with the server and the "
            "load generator, and the figures will be low (see --wait-idle)")
    log(f"provider: gunicorn {args.workers} worker(s) × {args.threads} thread(s) "
        f"({'sync' if args.threads == 1 else 'gthread'}), database {args.database}, "
        f"argon2id m={ARGON2['memory_kib']} KiB t={ARGON2['time_cost']} "
        f"p={ARGON2['parallelism']}")
    log(f"load generator: {processes} client process(es) × {per_process} connection(s) = "
        f"{concurrency} concurrent; GET loads by {' and '.join(get_tools)}. "
        "The machine's cores are shared by the server and the load generator.")
    provider = BenchProvider(directory, workers=args.workers, threads=args.threads,
                             database=args.database)
    results: list[LoadResult] = []
    login_summary: dict | None = None
    comparisons: list[str] = []
    profiles: dict = {}
    floors: dict = {}
    references: list[ReferenceServer] = []
    try:
        client_id, secret = provider.add_portal("bench-portal", id_token_alg=args.id_token_alg)
        provider.add_account()
        provider.start()
        log(f"provider up at {provider.issuer} (master pid {provider.process.pid}, "
            f"workers {provider.worker_pids()})")
        basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()

        # Login grants: one per refresh chain, plus one for the userinfo token.
        grants = []
        for i in range(concurrency + 1):
            grants.append(browser_login(provider, client_id, secret))
            if i == 0:
                log(f"first login ok ({grants[0].requests} HTTP requests, consent given: "
                    f"{grants[0].consent}, {grants[0].seconds * 1000:.0f} ms)")
        log(f"{len(grants)} login grants obtained (refresh chains: {concurrency})")
        chain_tokens = [g.tokens["refresh_token"] for g in grants[:concurrency]]
        spare_refresh = grants[-1].tokens["refresh_token"]

        def fresh_access_token() -> str:
            nonlocal spare_refresh
            tokens = refresh_once(provider, client_id, secret, spare_refresh)
            spare_refresh = tokens["refresh_token"]
            return tokens["access_token"]

        def measured(what: str, run):
            """Run a load; while other work on the machine used more than --other-limit
            cores during it, wait for the machine to go idle and run it again (at most
            --retries times). Keeps the least disturbed run."""
            best = None
            for attempt in range(args.retries + 1):
                log(f"{what}{' (again)' if attempt else ''} ...")
                result = run()
                progress(result)
                if best is None or result.other_cpu < best.other_cpu:
                    best = result
                if result.other_cpu <= args.other_limit or result.errors:
                    break
                if attempt < args.retries:
                    log(f"  other work used {result.other_cpu:.2f} cores meanwhile: "
                        "waiting for the machine to go idle to measure again")
                    wait_until_idle(0.10, 300)
            if best.other_cpu > args.other_limit:
                best.notes.append(f"DISTURBED: other work used {best.other_cpu:.2f} cores")
            results.append(best)
            return best

        def get_load(name: str, server, path: str, headers: dict, which: str) -> LoadResult:
            if which == "wrk":
                return wrk_load(name, server, path, headers, threads=args.wrk_threads,
                                connections=concurrency, seconds=args.seconds,
                                warmup=args.warmup)[0]
            return python_load(name, server, {"kind": "get", "path": path, "headers": headers},
                               processes=processes, connections=per_process,
                               seconds=args.seconds, warmup=args.warmup)[0]

        def refresh_load(name: str, server, which: str, auth: str,
                         tokens: list[str]) -> tuple[LoadResult, list[str]]:
            """One rotating-refresh load; returns the result and the last token of every
            chain still open."""
            if which == "wrk":
                script = directory / "refresh.lua"
                script.write_text(WRK_REFRESH_LUA, encoding="utf-8")
                result, out = wrk_load(
                    name, server, "/token", {}, threads=1, connections=len(tokens),
                    seconds=args.seconds, warmup=0, script=script,
                    script_args=[auth, *tokens])
                last = " ".join(re.findall(r"^FINAL_TOKENS ?(.*)$", out, re.M)).split()
                result.notes.append(
                    f"{len(last)} of {len(tokens)} chains open at the end "
                    "(wrk drops the responses in flight when it stops)")
                return result, last
            return python_load(
                name, server,
                {"kind": "refresh", "headers": {
                    "Authorization": auth,
                    "Content-Type": "application/x-www-form-urlencoded"}},
                processes=processes, connections=per_process, seconds=args.seconds,
                warmup=args.warmup, chain_tokens=tokens)

        get_loads = [
            ("discovery", "/.well-known/openid-configuration", None),
            ("jwks", "/jwks", None),
            ("userinfo", "/userinfo", "bearer"),
        ]
        for name, path, auth in get_loads:
            if name not in loads:
                continue
            for which in get_tools:

                def run_get(name=name, path=path, auth=auth, which=which) -> LoadResult:
                    headers = {}
                    if auth:
                        headers["Authorization"] = "Bearer " + fresh_access_token()
                    return get_load(name, provider, path, headers, which)

                measured(f"{name}: {args.seconds:g} s with {which}", run_get)

        def run_introspect(which: str) -> LoadResult:
            """RFC 7662 introspection of one live access token of the bench portal, by the
            portal itself (client_secret_basic); every answer must be `"active": true`."""
            token = fresh_access_token()
            if which == "wrk":
                script = directory / "introspect.lua"
                script.write_text(WRK_INTROSPECT_LUA, encoding="utf-8")
                result, out = wrk_load(
                    "introspect", provider, "/introspect", {}, threads=args.wrk_threads,
                    connections=concurrency, seconds=args.seconds, warmup=args.warmup,
                    script=script, script_args=[basic, token], warm_with_script=True)
                counts = re.findall(r"^INACTIVE (\d+)$", out, re.M)
                inactive = sum(int(n) for n in counts)
                if not counts:
                    result.errors += 1
                    result.notes.append("wrk's Lua script reported nothing (INACTIVE)")
                if inactive:
                    result.errors += inactive
                    result.notes.append(f"{inactive} answers were not \"active\": true")
                return result
            return python_load(
                "introspect", provider,
                {"kind": "introspect", "body": urlencode({"token": token}), "headers": {
                    "Authorization": basic,
                    "Content-Type": "application/x-www-form-urlencoded"}},
                processes=processes, connections=per_process, seconds=args.seconds,
                warmup=args.warmup)[0]

        if "introspect" in loads:
            for which in get_tools:
                measured(f"introspect: {args.seconds:g} s with {which}",
                         lambda which=which: run_introspect(which))

        def top_up(tokens: list[str]) -> list[str]:
            """New login grants for chains that wrk cut off when it stopped."""
            while len(tokens) < concurrency:
                tokens.append(browser_login(provider, client_id, secret).tokens["refresh_token"])
            return tokens

        def run_refresh(which: str) -> LoadResult:
            nonlocal chain_tokens
            chain_tokens = top_up(chain_tokens)
            result, chain_tokens = refresh_load("refresh", provider, which, basic, chain_tokens)
            # Every open chain must still be alive: its last token refreshes once more.
            chain_tokens = [refresh_once(provider, client_id, secret, token)["refresh_token"]
                            for token in chain_tokens]
            result.notes.append(f"the last token of each of the {len(chain_tokens)} open "
                                "chains still refreshes (no reuse detected)")
            return result

        if "refresh" in loads:
            for which in get_tools:
                measured(f"refresh: {concurrency} rotating chains for {args.seconds:g} s "
                         f"with {which}", lambda which=which: run_refresh(which))
            chain_tokens = top_up(chain_tokens)

        def run_refresh_dpop() -> LoadResult:
            """Rotating refresh chains, each bound by its first request to its connection's
            DPoP key; afterwards each chain's last token must be refused without that key."""
            tokens = [browser_login(provider, client_id, secret).tokens["refresh_token"]
                      for _ in range(concurrency)]
            result, last = python_load(
                "refresh-dpop", provider,
                {"kind": "refresh-dpop", "htu": provider.issuer + "/token", "headers": {
                    "Authorization": basic,
                    "Content-Type": "application/x-www-form-urlencoded"}},
                processes=processes, connections=per_process, seconds=args.seconds,
                warmup=args.warmup, chain_tokens=tokens)
            bound = 0
            for token in last:
                try:
                    refresh_once(provider, client_id, secret, token)
                except OSError:  # invalid_grant: the token is bound to the chain's key
                    bound += 1
            if bound != len(last):
                result.errors += len(last) - bound
            result.notes.append(f"{bound} of the {len(last)} chains' last tokens are refused "
                                "without their DPoP key (bound)")
            return result

        if "refresh-dpop" in loads:
            if "python" not in get_tools:  # the bearer figure next to it, by the same client
                measured(f"refresh: {concurrency} rotating chains for {args.seconds:g} s with "
                         "python (next to refresh-dpop)", lambda: run_refresh("python"))
            measured(f"refresh-dpop: {concurrency} DPoP-bound rotating chains for "
                     f"{args.seconds:g} s with python", run_refresh_dpop)

        def run_code(which: str) -> LoadResult:
            """Authorization-code exchanges, each of its own fresh code, minted just before
            (they live settings.tokens.code_ttl seconds)."""
            span = args.seconds + (args.warmup if which == "python" else 0)
            count = max(concurrency, min(CODES_MAX, math.ceil(args.codes_per_second * span)))
            ttl = provider.settings.tokens.code_ttl
            t0 = time.monotonic()
            codes = mint_codes(provider, client_id, count, grantee)
            minting = time.monotonic() - t0
            log(f"  {count:,} codes minted into the state store in {minting:.1f} s "
                f"(they live {ttl} s)")
            if minting + span + 1 > ttl:
                log(f"  WARNING: the last codes expire before the load ends ({ttl} s "
                    "code TTL): lower --seconds or --codes-per-second")
            if which == "python":
                return python_load(
                    "code", provider,
                    {"kind": "code", "body": CODE_FORM, "headers": {
                        "Authorization": basic,
                        "Content-Type": "application/x-www-form-urlencoded"}},
                    processes=processes, connections=per_process, seconds=args.seconds,
                    warmup=args.warmup,
                    chain_tokens=[codes[i::concurrency] for i in range(concurrency)])[0]
            script = directory / "code.lua"
            script.write_text(WRK_CODE_LUA, encoding="utf-8")
            pairs = directory / "codes.txt"
            pairs.write_text("".join(f"{code} {verifier}\n" for code, verifier in codes),
                             encoding="utf-8")
            try:
                result, out = wrk_load(
                    "code", provider, "/token", {}, threads=args.wrk_threads,
                    connections=concurrency, seconds=args.seconds, warmup=0, script=script,
                    script_args=[basic, CODE_FORM, str(pairs), str(args.wrk_threads)])
            finally:
                pairs.unlink(missing_ok=True)
            stats = [tuple(map(int, found)) for found in re.findall(
                r"^CODE_STATS (\d+) (\d+) (\d+) (\d+)$", out, re.M)]
            used, bad, empty = (sum(s[i] for s in stats) for i in (1, 2, 3))
            if len(stats) != args.wrk_threads:
                result.errors += 1
                result.notes.append("wrk's Lua script did not report (CODE_STATS)")
            result.notes.append(f"{used} codes sent, each once, of {count} minted")
            if bad:
                result.errors += bad
                result.notes.append(f"{bad} 200 answers without an access_token and id_token")
            if empty:
                result.notes.append(f"{empty} requests found no code left (sent a dummy one, "
                                    "refused: raise --codes-per-second)")
            return result

        if "code" in loads:
            grantee = code_grantee(provider, grants[0].tokens)
            for which in get_tools:
                measured(f"code: authorization-code exchanges, one fresh code each, for "
                         f"{args.seconds:g} s with {which}", lambda which=which: run_code(which))

        if args.reference:
            # The same loads, same tools and connections, against the references.
            if loads & {"discovery", "jwks", "login"}:
                hello = flask_hello(directory, args.workers, args.threads)
                references.append(hello)
                log(f"{hello.name} up at {hello.issuer} (gunicorn {args.workers} worker(s) × "
                    f"{args.threads} thread(s), the provider's gunicorn settings)")
                for which in get_tools if loads & {"discovery", "jwks"} else ():
                    measured(f"reference {hello.name}: {args.seconds:g} s with {which}",
                             lambda which=which: get_load(
                                 "Flask hello", hello, "/hello", {}, which))
                if "login" in loads:
                    floors["hello_sequential_ms"] = sequential_request_cpu(hello, "/hello")
                    log(f"  {hello.name}, requests sent one at a time: "
                        f"{floors['hello_sequential_ms']:.3f} ms of server CPU each")
                hello.stop()
            if "refresh" in loads:
                log("floor of a refresh on this database (in this process): the durable "
                    "rotation and two ES256 signatures ...")
                floors.update(rotation_floor(provider, client_id))
                log(f"  rotation {floors['rotation_ms']:.3f} ms CPU (+ database "
                    f"{floors['rotation_db_ms']:.3f} ms), two ES256 signatures "
                    f"{floors['signatures_ms']:.3f} ms")
            need = concurrency * len(get_tools) * (args.retries + 1) + concurrency
            node = node_reference(directory, need, args.id_token_alg)
            references.append(node)
            log(f"{node.name} up at {node.issuer} (pid {node.process.pid}, in-memory "
                f"adapter; {need} refresh tokens minted)")
            pool = list(node.info["refresh_tokens"])
            node_basic = "Basic " + base64.b64encode(
                f"{node.info['client_id']}:{node.info['client_secret']}".encode()).decode()
            for name, path in (("discovery", "/.well-known/openid-configuration"),
                               ("jwks", "/jwks")):
                if name in loads:
                    for which in get_tools:
                        measured(f"reference {node.name} {name}: {args.seconds:g} s with "
                                 f"{which}", lambda which=which, name=name, path=path:
                                 get_load(f"node {name}", node, path, {}, which))
            if "refresh" in loads:
                for which in get_tools:

                    def run_node_refresh(which=which) -> LoadResult:
                        tokens = [pool.pop() for _ in range(concurrency)]
                        result, last = refresh_load(
                            "node refresh", node, which, node_basic, tokens)
                        dead = 0
                        for token in last:  # every open chain still refreshes
                            try:
                                refresh_once(node, node.info["client_id"],
                                             node.info["client_secret"], token)
                            except OSError as exc:
                                dead += 1
                                result.notes.append(f"a chain's last token: {exc}")
                        result.errors += dead
                        result.notes.append(f"{len(last) - dead} of the {len(last)} open "
                                            "chains still refresh")
                        return result

                    measured(f"reference {node.name} refresh: {concurrency} rotating chains "
                             f"for {args.seconds:g} s with {which}", run_node_refresh)
            node.stop()

        def run_logins() -> dict:
            timings, posts, errors, http_count, consents = [], [], 0, 0, 0
            per_step: dict[str, list[float]] = {}
            all0, server0, self0 = busy_ticks(), provider.cpu_ticks(), sum(os.times()[:2])
            db0 = provider.db_cpu_ticks()
            t0 = time.monotonic()
            for _ in range(args.logins):
                try:
                    done = browser_login(provider, client_id, secret)
                except LoginFailed as exc:
                    errors += 1
                    log(f"  login failed: {exc}")
                    continue
                timings.append(done.seconds)
                posts.append(done.password_post)
                http_count = done.requests
                consents += done.consent
                for label, seconds in done.steps:
                    per_step.setdefault(label, []).append(seconds)
            wall = time.monotonic() - t0
            server_ticks = provider.cpu_ticks() - server0
            db_ticks = provider.db_cpu_ticks() - db0
            other = ((busy_ticks() - all0 - server_ticks - db_ticks) / TICK
                     - (sum(os.times()[:2]) - self0)) / wall
            bare = bare_argon2(args.logins)
            ordered = sorted(timings)
            summary = {
                "count": len(timings), "errors": errors, "http_requests": http_count,
                "consent_steps": consents,
                "median_ms": statistics.median(timings) * 1000,
                "p99_ms": _percentile(ordered, 0.99) * 1000,
                "min_ms": ordered[0] * 1000,
                "password_post_median_ms": statistics.median(posts) * 1000,
                "argon2_count": len(bare),
                "argon2_median_ms": statistics.median(bare) * 1000,
                "steps_median_ms": {label: statistics.median(values) * 1000
                                    for label, values in per_step.items()},
                "other_cpu": other,
                # Server (gunicorn master + workers) and database CPU over all the logins,
                # per login: the cost the target "≤ 1.1 × argon2id" is about.
                "server_cpu_ms_per_login": server_ticks / TICK * 1000 / max(1, len(timings)),
                "db_cpu_ms_per_login": db_ticks / TICK * 1000 / max(1, len(timings)),
            }
            summary["ratio"] = summary["median_ms"] / summary["argon2_median_ms"]
            summary["cpu_ratio"] = ((summary["server_cpu_ms_per_login"]
                                     + summary["db_cpu_ms_per_login"])
                                    / summary["argon2_median_ms"])
            summary["rest_ms"] = summary["median_ms"] - summary["password_post_median_ms"]
            log(f"  login median {summary['median_ms']:.1f} ms (password POST "
                f"{summary['password_post_median_ms']:.1f} ms), server CPU "
                f"{summary['server_cpu_ms_per_login']:.1f} ms per login, bare argon2id "
                f"{summary['argon2_median_ms']:.1f} ms CPU, ratio {summary['ratio']:.2f}, "
                f"errors {errors}, other work {other:.2f} cores")
            return summary

        if "login" in loads:
            for attempt in range(args.retries + 1):
                log(f"login: {args.logins} full password + OTP logins, sequential, then the "
                    f"bare argon2id verify ×{args.logins}{' (again)' if attempt else ''} ...")
                summary = run_logins()
                if login_summary is None or summary["other_cpu"] < login_summary["other_cpu"]:
                    login_summary = summary
                if summary["other_cpu"] <= args.other_limit:
                    break
                if attempt < args.retries:
                    log(f"  other work used {summary['other_cpu']:.2f} cores meanwhile: "
                        "waiting for the machine to go idle to measure again")
                    wait_until_idle(0.10, 300)

        if args.profile:
            log("profiling (py-spy on the worker; these runs are not in the results) ...")
            profiles["refresh"] = py_spy_profile(provider, "refresh", lambda: python_load(
                "refresh", provider,
                {"kind": "refresh", "headers": {
                    "Authorization": basic,
                    "Content-Type": "application/x-www-form-urlencoded"}},
                processes=processes, connections=per_process, seconds=args.seconds,
                warmup=0, chain_tokens=chain_tokens), args.seconds)
            token = fresh_access_token()
            profiles["userinfo"] = py_spy_profile(provider, "userinfo", lambda: python_load(
                "userinfo", provider, {"kind": "get", "path": "/userinfo",
                                       "headers": {"Authorization": "Bearer " + token}},
                processes=processes, connections=per_process, seconds=args.seconds,
                warmup=0), args.seconds)

            def logins_for_a_while() -> None:
                deadline = time.monotonic() + args.seconds
                while time.monotonic() < deadline:
                    browser_login(provider, client_id, secret)

            profiles["login"] = py_spy_profile(provider, "login", logins_for_a_while,
                                               args.seconds)
    finally:
        for server in references:
            server.stop()
        provider.stop()
        if args.keep:
            log(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)

    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "database": args.database if args.database == "sqlite" else "postgresql+redis",
        "workers": args.workers, "threads": args.threads, "seconds": args.seconds,
        "id_token_alg": args.id_token_alg, "warmup": args.warmup, "client_processes": processes,
        "connections_per_process": per_process,
        "argon2": ARGON2,
        "busy_before": round(busy_before, 3),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True,  # noqa: S603, S607
                              text=True).stdout.split("\n")[0] if have_wrk else None,
    }

    print()
    print(f"Results — {meta['date']}, {meta['cpus']} cores, {meta['database']}, gunicorn "
          f"{args.workers} worker(s) × {args.threads} thread(s); load generator: "
          f"{processes} client process(es) × {per_process} connection(s) "
          f"(sharing the machine with the server)")
    print()
    print_table(results)
    if login_summary:
        s = login_summary
        print()
        print(f"login (password + SMS OTP, {s['count']} sequential, {s['http_requests']} HTTP "
              f"requests each, consent steps timed: {s['consent_steps']}): median "
              f"{s['median_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, min {s['min_ms']:.1f} ms, "
              f"errors {s['errors']}")
        print(f"  of which the password POST (argon2id inside): median "
              f"{s['password_post_median_ms']:.1f} ms; all other steps: "
              f"{s['rest_ms']:.1f} ms")
        print("  per HTTP request (median ms): " + ", ".join(
            f"{label} {ms:.1f}" for label, ms in s["steps_median_ms"].items()))
        print(f"  server CPU per login: {s['server_cpu_ms_per_login']:.1f} ms (+ database "
              f"{s['db_cpu_ms_per_login']:.1f} ms)")
        print(f"  bare argon2id verify in-process (m=19 MiB t=2 p=1): median "
              f"{s['argon2_median_ms']:.1f} ms CPU — login wall time / argon2id = "
              f"{s['ratio']:.2f}; server + database CPU per login / argon2id = "
              f"{s['cpu_ratio']:.2f} (target ≤ 1.1: "
              f"{'met' if s['cpu_ratio'] <= 1.1 else 'NOT met'})")
        if "hello_sequential_ms" in floors:
            hello_ms, hash_ms = floors["hello_sequential_ms"], s["argon2_median_ms"]
            print(f"  floor of the server alone: a bare Flask hello under the same gunicorn "
                  f"costs {hello_ms:.2f} ms per request sent one at a time; "
                  + "; ".join(f"{n} such requests + the argon2id verify = "
                              f"{(hash_ms + n * hello_ms) / hash_ms:.2f}× the verify"
                              for n in sorted({s['http_requests'], 5}, reverse=True))
                  + " (5: the fewest a code flow with a password step and an OTP step can "
                  "make when every POST answers 303 — authorize, password, OTP page, OTP, "
                  "token), before any of the login's own work")
    print()
    print("Comparison with DESIGN §8 (the references are quoted, not measured here):")
    ours = [r for r in results if r.name in REFERENCES]
    for result in ours:
        comparisons.append(comparison_line(result, args.workers))
    measured_lines = measured_comparisons(ours, [r for r in results if r not in ours], floors)
    if (dpop_line := dpop_comparison(results)) is not None:
        comparisons.append(dpop_line)
    if login_summary:
        comparisons.append(
            f"login: median {login_summary['median_ms']:.1f} ms per full login, "
            f"{login_summary['server_cpu_ms_per_login']:.1f} ms of server CPU "
            f"({login_summary['cpu_ratio']:.2f}× the argon2id verify's CPU; wall time "
            f"{login_summary['ratio']:.2f}×) measured here "
            f"({login_summary['argon2_median_ms']:.1f} ms) — reference: {REFERENCES['login']} "
            "(quoted from DESIGN §8, not measured here)")
    for line in comparisons:
        print("  " + line)
    if measured_lines:
        print()
        print("Measured side by side in this run (--reference; same tool, connections and "
              "seconds; CPU ms/req = server CPU per request):")
        for line in measured_lines:
            print("  " + line)
    total_errors = sum(r.errors for r in results) + (login_summary or {}).get("errors", 0)
    print()
    print(f"errors in total: {total_errors}")

    if not args.no_save:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        payload = {"meta": meta, "loads": [r.__dict__ for r in results],
                   "login": login_summary, "comparisons": comparisons,
                   "measured_comparisons": measured_lines, "profiles": profiles, "floors": floors,
                   "references_quoted_from_design": REFERENCES}
        args.output.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n",
                               encoding="utf-8")
        log(f"wrote {args.output}")
    print()
    print("Markdown rows for bench/README.md:")
    print()
    print(markdown_rows(results, login_summary, meta))
    return 1 if total_errors else 0


if __name__ == "__main__":
    sys.exit(main())
