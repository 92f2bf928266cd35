"""The provider running for real (`idp serve` under gunicorn) on a free loopback port, with
its database (SQLite, or a fresh PostgreSQL database and Redis), and the example portal
running beside it."""

from __future__ import annotations

import fcntl
import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy import create_engine, select, text
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
from tests.live.login import RegisteredPortal
from tests.live.processes import REPO, free_port, stop_process, wait_for

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"
"""The Redis of a provider on PostgreSQL (each under its own key prefix)."""
TEST_PASSWORDS = {"memory_kib": 8192, "time_cost": 1}
"""Cheap argon2id: the tests time the flows, not the hash."""


def read_outbox(path: Path) -> list[dict]:
    """The messages of an outbox (JSON lines), oldest first. Read under a shared lock: the
    provider appends under an exclusive one, so a message is never read half-written."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as outbox:
        fcntl.flock(outbox, fcntl.LOCK_SH)
        return [json.loads(line) for line in outbox.read().splitlines()]


def _admin(statement: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


@contextmanager
def new_database(prefix: str) -> Iterator[str]:
    """The URL of a new, empty database on the PostgreSQL at 127.0.0.1:5432, dropped (with
    whatever is still connected to it) afterwards. The one way the tests and the benchmarks
    make a throwaway database."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class FreshPostgres:
    """A new database on the PostgreSQL at 127.0.0.1:5432 and a new key prefix on the
    Redis at REDIS_URL, both for one provider; drop() removes them."""

    def __init__(self, prefix: str) -> None:
        self._database = ExitStack()
        self.url = self._database.enter_context(new_database(prefix))
        self.name = self.url.rsplit("/", 1)[1]
        self.key_prefix = f"{prefix.replace('_', '')}:{uuid.uuid4().hex[:8]}:"

    def config(self) -> str:
        """The provider's [database] and [state] sections."""
        return (f'[database]\nurl = "{self.url}"\n'
                f'[state]\nbackend = "redis"\nredis_url = "{REDIS_URL}"\n'
                f'key_prefix = "{self.key_prefix}"\n')

    def drop(self) -> None:
        import redis

        self._database.close()
        client = redis.Redis.from_url(REDIS_URL)
        try:
            for key in client.scan_iter(self.key_prefix + "*"):
                client.delete(key)
        finally:
            client.close()


class LiveProvider:
    """Writes a config in `directory`, migrates, and serves on a free port.

    `database`: "sqlite" (a file in `directory`) or "postgresql" (a FreshPostgres: its own
    database, and Redis for the state store; stop() drops both). `passwords`: the argon2id
    parameters of the [passwords] section (TEST_PASSWORDS unless given).
    """

    database_prefix = "idp_live"
    """How the names of a FreshPostgres start."""

    def __init__(self, directory: Path, *, workers: int = 1, threads: int = 4,
                 extra_config: str = "", database: str = "sqlite",
                 passwords: dict | None = None) -> None:
        if database not in ("sqlite", "postgresql"):
            raise ValueError(f"database: sqlite or postgresql, not {database!r}")
        self.directory = directory
        self.workers, self.threads = workers, threads
        self.extra_config = extra_config
        self.passwords = passwords or TEST_PASSWORDS
        self.port = getattr(self, "port", None) or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = getattr(self, "issuer", None) or self.url
        self.postgres = FreshPostgres(self.database_prefix) if database == "postgresql" else None
        self.process: subprocess.Popen | None = None
        try:
            self.config = directory / "idp.toml"
            self.config.write_text(self._config_text(), encoding="utf-8")
            self.settings: Settings = load_settings(self.config)
            upgrade(self.settings)
            self.engine = make_engine(self.settings.database_url)
            data_keys.bind(self.engine, self.settings)
            with Session(self.engine) as session:
                ensure_keys(session, make_backends(self.settings.keys)["software"])
                session.commit()
        except BaseException:
            if self.postgres is not None:
                self.postgres.drop()
            raise

    def _config_text(self) -> str:
        return (
            "[server]\n"
            f'issuer = "{self.issuer}"\nport = {self.port}\n'
            f"workers = {self.workers}\nthreads = {self.threads}\n"
            'secret_key = "live-test-secret-key-0123456789abcdef"\n'
            'pairwise_salt = "live-test-pairwise-salt"\n'
            + (self.postgres.config() if self.postgres
               else '[database]\nurl = "sqlite:///idp.sqlite3"\n')
            + '[keys]\npassphrase = "live-test-passphrase"\n'
            + "[passwords]\n" + "".join(f"{name} = {value}\n"
                                        for name, value in self.passwords.items())
            + '[sms]\noutbox_path = "sms.jsonl"\n'
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
        stop_process(self.process)
        self.engine.dispose()
        if self.postgres is not None:
            self.postgres.drop()

    def add_portal(self, client_id: str, base_url: str, **options) -> RegisteredPortal:
        registration = ClientRegistration(
            client_id=client_id,
            name=options.pop("name", client_id),
            redirect_uris=[f"{base_url}/callback"],
            post_logout_redirect_uris=options.pop("post_logout_redirect_uris",
                                                  [f"{base_url}/"]),
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
            for message in reversed(read_outbox(outbox)):
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
