"""A provider running for real (`idp serve` under gunicorn) on a free loopback port.

Used by the tests that must talk HTTP exactly as portals and browsers do: the
independent relying-party library test and the Chromium end-to-end test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts import create_account, validate_new_account
from idp.clients import ClientRegistration, register_client
from idp.config import Settings, load_settings
from idp.db import make_engine
from idp.migrate import upgrade
from idp.security.passwords import PasswordHasher
from idp.store import data_keys
from idp.store.models import StateEntry
from keys import ensure_keys, make_backends

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768+), where outgoing connections of
    load generators and other tests cannot take it between this check and the bind."""
    for _ in range(100):
        port = random.randrange(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32000")


def wait_for(url: str, seconds: float = 90, process: subprocess.Popen | None = None,
             log: Path | None = None) -> None:
    """Wait until `url` answers; fail at once with the server's log if it died, and stop a
    server that never answers (so a failed start leaves no process behind).

    The first start in a fresh checkout compiles every module, which on a busy
    two-core machine can take tens of seconds: hence the generous default.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            if process is not None and process.poll() is not None:
                output = log.read_text()[-3000:] if log and log.exists() else ""
                raise RuntimeError(
                    f"server for {url} exited ({process.returncode}):\n{output}") from None
            if time.monotonic() > deadline:
                if process is not None:
                    process.terminate()
                    process.wait(timeout=15)
                raise
            time.sleep(0.2)


@dataclass
class RegisteredPortal:
    client_id: str
    secret: str
    base_url: str


class LiveProvider:
    """Writes a config in `directory`, migrates, and serves on a free port."""

    def __init__(self, directory: Path, *, workers: int = 1, threads: int = 4,
                 extra_config: str = "") -> None:
        self.directory = directory
        self.workers, self.threads = workers, threads
        self.extra_config = extra_config
        self.port = getattr(self, "port", None) or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = getattr(self, "issuer", None) or self.url
        self.config = directory / "idp.toml"
        self.config.write_text(self._config_text(), encoding="utf-8")
        self.settings: Settings = load_settings(self.config)
        upgrade(self.settings)
        self.engine = make_engine(self.settings.database_url)
        data_keys.bind(self.engine, self.settings)
        with Session(self.engine) as session:
            ensure_keys(session, make_backends(self.settings.keys)["software"])
            session.commit()
        self.process: subprocess.Popen | None = None

    def _config_text(self) -> str:
        return (
            "[server]\n"
            f'issuer = "{self.issuer}"\nport = {self.port}\n'
            f"workers = {self.workers}\nthreads = {self.threads}\n"
            'secret_key = "live-test-secret-key-0123456789abcdef"\n'
            'pairwise_salt = "live-test-pairwise-salt"\n'
            '[database]\nurl = "sqlite:///idp.sqlite3"\n'
            '[keys]\npassphrase = "live-test-passphrase"\n'
            '[passwords]\nmemory_kib = 8192\ntime_cost = 1\n'
            '[sms]\noutbox_path = "sms.jsonl"\n'
        ) + self.extra_config

    def start(self) -> LiveProvider:
        log = (self.directory / "idp.log").open("w")
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "idp.cli", "--config", str(self.config), "serve"],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )
        wait_for(f"{self.url}/.well-known/openid-configuration", process=self.process,
                 log=self.directory / "idp.log")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.engine.dispose()

    def add_portal(self, client_id: str, base_url: str, **options) -> RegisteredPortal:
        registration = ClientRegistration(
            client_id=client_id,
            name=options.pop("name", client_id),
            redirect_uris=[f"{base_url}/callback"],
            post_logout_redirect_uris=[f"{base_url}/"],
            backchannel_logout_uri=options.pop("backchannel_logout_uri",
                                               f"{base_url}/backchannel-logout"),
            scopes=options.pop("scopes", ["openid", "profile", "phone", "email", "cccd",
                                          "offline_access"]),
            **options,
        )
        with Session(self.engine, expire_on_commit=False) as session:
            _, secret = register_client(session, registration)
        return RegisteredPortal(client_id, secret, base_url)

    def add_account(self, person: dict, password: str, verified_by: str = "operator",
                    evidence: dict | None = None) -> None:
        data = validate_new_account(person, password, 0)
        pw = self.settings.passwords
        with Session(self.engine, expire_on_commit=False) as session:
            create_account(session, data, password,
                           PasswordHasher(pw.memory_kib, pw.time_cost, pw.parallelism),
                           verified_by=verified_by, evidence=evidence)

    def last_otp(self, phone: str | None = None, wait: float = 5.0) -> str:
        """The code of the last SMS, or of the last one sent to `phone` (E.164). Waits up
        to `wait` seconds for one: some codes leave through the SMS queue just after the
        page has answered (forgot password)."""
        outbox = self.settings.path(self.settings.sms.outbox_path)
        deadline = time.monotonic() + wait
        while True:
            lines = outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []
            for message in map(json.loads, reversed(lines)):
                if (phone is None or message["to"] == phone) and (
                        found := re.search(r"\b(\d{6})\b", message["text"])):
                    return found.group(1)
            if time.monotonic() > deadline:
                raise AssertionError(f"no code sent to {phone or 'any phone'}")
            time.sleep(0.05)

    def captcha_answer(self, captcha_id: str) -> str:
        """What a citizen reads off the captcha picture (its record in the SQL state table)."""
        with self.engine.connect() as connection:
            value = connection.scalar(select(StateEntry.value).where(
                StateEntry.key == f"captcha:{captcha_id}"))
        return json.loads(value)["answer"]


class LivePortal:
    """examples/portal.py running as its own process."""

    def __init__(self, provider: LiveProvider, client_id: str, kind: str, port: int,
                 directory: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.registered = provider.add_portal(client_id, self.url)
        log = (directory / f"portal-{port}.log").open("w")
        self.process = subprocess.Popen(  # noqa: S603 - our own example
            [sys.executable, str(REPO / "examples" / "portal.py"), "--kind", kind,
             "--port", str(port), "--issuer", provider.issuer, "--client-id", client_id,
             f"--client-secret={self.registered.secret}"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        wait_for(self.url + "/api/session", process=self.process,
                 log=directory / f"portal-{port}.log")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class LoginStepFailed(Exception):
    """A step of a login over HTTP got an answer other than the way to the next step."""

    def __init__(self, step: str, response: requests.Response) -> None:
        super().__init__(f"{step}: {response.status_code} {response.text[:300]}")
        self.step, self.response = step, response


def http_login(base: str, portal: RegisteredPortal, cccd: str, password: str,
               read_otp: Callable[[], str], *, browser: requests.Session | None = None,
               scope: str = "openid profile offline_access") -> dict:
    """A whole login as a browser and its portal do it, through `base` (one node or the
    load balancer): authorize, password, OTP, consent the first time, code exchange.
    Returns the token response; raises LoginStepFailed at the first unexpected answer."""
    browser = browser or requests.Session()
    redirect_uri = portal.base_url + "/callback"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())

    def step(name: str, method: str, url: str, expect: int, **kwargs) -> requests.Response:
        response = browser.request(method, urljoin(base + "/", url), allow_redirects=False,
                                   timeout=15, **kwargs)
        if response.status_code != expect:
            raise LoginStepFailed(name, response)
        return response

    def csrf(page: requests.Response) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    location = step("authorize", "GET", "/authorize?" + urlencode({
        "response_type": "code", "client_id": portal.client_id, "redirect_uri": redirect_uri,
        "scope": scope, "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
    }), 302).headers["Location"]
    tx = parse_qs(urlsplit(location).query)["tx"][0]
    page = step("login page", "GET", location, 200)
    answer = step("password", "POST", "/login", 303, data={
        "csrf_token": csrf(page), "tx": tx, "cccd": cccd, "password": password})
    page = step("otp page", "GET", answer.headers["Location"], 200)
    answer = step("otp", "POST", "/login/otp", 303, data={
        "csrf_token": csrf(page), "tx": tx, "otp": read_otp()})
    location = step("resume", "GET", answer.headers["Location"], 302).headers["Location"]
    if "/consent" in location:
        page = step("consent page", "GET", location, 200)
        answer = step("consent", "POST", "/consent", 303, data={
            "csrf_token": csrf(page), "tx": parse_qs(urlsplit(location).query)["tx"][0],
            "decision": "allow"})
        location = step("resume", "GET", answer.headers["Location"], 302).headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    return step("token", "POST", "/token", 200, auth=(portal.client_id, portal.secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "code_verifier": verifier}).json()
