"""The servers a benchmark runs: the provider under test (BenchProvider: the tests'
LiveProvider with the production argon2id cost, lifted limits, and the CPU it uses) and the
reference servers measured beside it with --reference."""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import requests

from bench import REPO, log
from bench.machine import children, pids_named, proc_cpu_ticks
from tests.live import (
    REDIS_URL,
    LiveProvider,
    RegisteredPortal,
    TimedLogin,
    free_port,
    stop_process,
    timed_http_login,
    wait_for,
)

REFERENCE_DIR = REPO / "bench" / "reference"
BENCH_KEK = base64.b64encode(b"bench data key-encryption key 32").decode()
"""The personal-data KEK of the bench provider (a fixed value: benches only)."""
PASSWORD = "Lua-Thu#Ha-Noi-2024"
CCCD = "001085000001"
PERSON = {"cccd": CCCD, "full_name": "Nguyễn Văn An", "birthdate": "1985-03-15",
          "gender": "male", "phone": "+84911234567", "email": "an@example.vn"}
"""The benchmark's citizen."""
ARGON2 = {"memory_kib": 19456, "time_cost": 2, "parallelism": 1}
"""The production argon2id parameters (m=19 MiB, t=2, p=1)."""
SCOPE = "openid profile phone cccd offline_access"
PORTAL_URL = "http://127.0.0.1:9"
"""The bench portal, never contacted: the code is read from the redirect to its callback."""
PORTAL = PORTAL_URL + "/callback"
LIFTED_LIMITS = {
    # Load from one address and a few phones: lift the caps a crowd would spread.
    "login.attempts.address": "1000000 per hour",
    "sms.login.phone": "1000000 per hour",
    "sms.login.phone_daily": "1000000 per day",
    "sms.login.address": "1000000 per hour",
}


def limits_config(limits: dict[str, str]) -> str:
    return "[limits]\n" + "".join(f'"{name}" = "{rate}"\n' for name, rate in limits.items())


class BenchProvider(LiveProvider):
    """The tests' LiveProvider with the production argon2id cost and no login throttling,
    on SQLite or on a fresh PostgreSQL database with Redis (`database`), measuring the CPU
    its processes use.

    The OTP/attempt limits are raised (`limits` adds more) only so that one run's logins
    from one IP and a few phones are not refused; they do not change the cost of a request.
    """

    database_prefix = "idp_bench"

    def __init__(self, directory: Path, *, workers: int, threads: int, database: str,
                 limits: dict[str, str] | None = None) -> None:
        self.database = database
        self._admin = None
        super().__init__(
            directory, workers=workers, threads=threads, database=database, passwords=ARGON2,
            extra_config=(
                f'[data]\nkek = "{BENCH_KEK}"\n'
                # requests (like curl) never sends a Secure cookie over plain http.
                "[session]\ncookie_secure = false\n"
                + limits_config({**LIFTED_LIMITS, **(limits or {})})))

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.dispose()
        super().stop()

    def add_portal(self, client_id: str, base_url: str = PORTAL_URL,
                   **options) -> RegisteredPortal:
        """The bench portal: no logout URIs unless given."""
        options.setdefault("name", "Cổng đo tải")
        options.setdefault("post_logout_redirect_uris", [])
        options.setdefault("backchannel_logout_uri", None)
        return super().add_portal(client_id, base_url, **options)

    def add_account(self, person: dict | None = None, password: str = PASSWORD,
                    **options) -> None:
        """The benchmark's citizen, or `person` (keys as validate_new_account's)."""
        super().add_account(person or PERSON, password, **options)

    def login(self, portal: RegisteredPortal, *, cccd: str = CCCD, password: str = PASSWORD,
              phone: str | None = None, browser: requests.Session | None = None) -> TimedLogin:
        """A whole login through the real pages (tests.live.timed_http_login), as the bench
        citizen or as `cccd` (its OTP read from the last SMS sent to `phone`); the token
        response must carry the refresh and ID tokens the loads use."""
        return timed_http_login(self.issuer, portal, cccd, password,
                                lambda: self.last_otp(phone), browser=browser, scope=SCOPE,
                                timeout=30, require=("refresh_token", "id_token"))

    def worker_pids(self) -> list[int]:
        return children(self.process.pid) if self.process else []

    def cpu_ticks(self) -> int:
        """CPU time (clock ticks) used so far by the gunicorn master and its workers."""
        pids = [self.process.pid, *self.worker_pids()]
        return sum(proc_cpu_ticks(pid) for pid in pids)

    def db_cpu_ticks(self) -> int:
        """CPU time (clock ticks) of the PostgreSQL backends serving our database and of
        redis-server (0 on SQLite, which runs inside the worker)."""
        if self.postgres is None:
            return 0
        from sqlalchemy import create_engine, text

        from tests.live import PG_ADMIN_URL

        if self._admin is None:
            self._admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as connection:
            pids = list(connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                {"name": self.postgres.name}).scalars())
        return sum(proc_cpu_ticks(pid) for pid in pids) + redis_server_ticks()


def redis_server_ticks() -> int:
    """CPU time (clock ticks) used so far by redis-server: the state store of our provider on
    PostgreSQL + Redis, and the store of node oidc-provider with its Redis adapter."""
    return sum(proc_cpu_ticks(pid) for pid in pids_named("redis-server"))


class ReferenceServer:
    """A server measured side by side with ours (`--reference`): node oidc-provider
    (bench/reference/server.js, with its in-memory adapter, or with `redis_prefix` its Redis
    adapter on REDIS_URL) or a bare Flask "hello" under the provider's gunicorn settings
    (bench/reference/hello.py). Quacks like BenchProvider for the load generators: issuer,
    port, cpu_ticks() (the process and its children), db_cpu_ticks() (redis-server with the
    Redis adapter, as for our provider on PostgreSQL + Redis; else 0: nothing outside the
    process)."""

    def __init__(self, name: str, command: list[str], directory: Path, ready_path: str,
                 redis_prefix: str | None = None) -> None:
        self.name = name
        self.command = command
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / (name.replace(" ", "-").replace("/", "-") + ".log")
        self.ready_path = ready_path
        self.redis_prefix = redis_prefix
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
            wait_for(self.issuer + self.ready_path, seconds=60, process=self.process)
            if read_info:
                line = ""
                while not line.startswith("{"):
                    line = self.process.stdout.readline()
                    if not line:
                        raise OSError("no start-up line")
                self.info = json.loads(line)
        except (OSError, RuntimeError):
            self.stop()
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} did not start; its log ends with:\n{tail}") from None
        return self

    def stop(self) -> None:
        """SIGTERM (node with Redis then deletes its keys), and with Redis make sure no key
        under its prefix is left, even when it had to be killed."""
        running = self.process is not None and self.process.poll() is None
        stop_process(self.process)
        if self.redis_prefix and running:
            left = delete_redis_keys(self.redis_prefix)
            if left:
                log(f"  {self.name} left {left} Redis keys under {self.redis_prefix}: deleted")

    def cpu_ticks(self) -> int:
        pids = [self.process.pid, *children(self.process.pid)] if self.process else []
        return sum(proc_cpu_ticks(pid) for pid in pids)

    def db_cpu_ticks(self) -> int:
        return redis_server_ticks() if self.redis_prefix else 0


def delete_redis_keys(prefix: str) -> int:
    """Delete the keys under `prefix` in REDIS_URL's database; returns how many there were."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        glob = "".join("\\" + c if c in "\\*?[]" else c for c in prefix)  # only itself
        keys = list(client.scan_iter(match=glob + "*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start:start + 500])
        return len(keys)
    finally:
        client.close()


def node_reference(directory: Path, tokens: int, id_token_alg: str,
                   redis: bool = False) -> ReferenceServer:
    """oidc-provider from bench/reference (npm ci from the lockfile when oidc-provider or
    ioredis is missing from node_modules), minting `tokens` refresh tokens at start; its
    client's ID tokens are signed with `id_token_alg`, as ours. `redis`: with its Redis
    adapter (bench/reference/redis_adapter.js) on REDIS_URL, the Redis our provider uses on
    PostgreSQL, under a key prefix of its own (`bench-ref:<random>:`), deleted when it
    stops; else its in-memory adapter."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        raise RuntimeError("--reference needs node and npm (Node.js 20+)")
    modules = REFERENCE_DIR / "node_modules"
    if not all((modules / package).exists() for package in ("oidc-provider", "ioredis")):
        log("installing the reference (npm ci in bench/reference) ...")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=REFERENCE_DIR,  # noqa: S603
                       check=True, capture_output=True)

    def version(package: str) -> str:
        return json.loads((modules / package / "package.json").read_text())["version"]

    command = [node, "server.js", "{port}", str(tokens), id_token_alg]
    name, prefix = f"node oidc-provider {version('oidc-provider')}", None
    if redis:
        prefix = f"bench-ref:{secrets.token_hex(6)}:"
        command += [REDIS_URL, prefix]
        name += f" + Redis adapter (ioredis {version('ioredis')})"
    server = ReferenceServer(name, command, directory, "/.well-known/openid-configuration",
                             redis_prefix=prefix).start(read_info=True)
    adapter = server.info.get("adapter")
    if adapter != ("redis" if redis else "memory"):
        server.stop()
        raise RuntimeError(f"{name} started with the {adapter!r} adapter")
    return server


def flask_hello(directory: Path, workers: int, threads: int) -> ReferenceServer:
    server = ReferenceServer(
        "Flask hello", [sys.executable, "hello.py", "{port}", str(workers), str(threads)],
        directory, "/hello")
    return server.start()
