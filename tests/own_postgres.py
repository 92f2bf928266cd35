"""A PostgreSQL primary and a streaming standby of our own on loopback: initdb, then
pg_basebackup of the primary into the standby's data directory, each with its own port;
the shared server on 5432 is never touched.

Replication is synchronous (`synchronous_standby_names = '*'` on the primary): a commit
is acknowledged only once the standby has it, which is what makes "no acknowledged row
lost" hold when the primary dies. The standby keeps no synchronous partner of its own, so
once promoted it commits alone instead of waiting for a standby that does not exist.

PostgreSQL refuses to run as root: under root the servers run as the `postgres` user,
in a directory it owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.live import free_port


def postgres_binaries() -> Path:
    """The newest installed server's bin directory; skips the test, saying why, without."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_basebackup"),
                   key=lambda path: int(Path(path).parent.parent.name))
    if not found:
        pytest.skip("PostgreSQL server binaries not installed "
                    "(scripts/bootstrap.sh --failover installs them)")
    return Path(found[-1]).parent


def _server_user() -> dict:
    """subprocess arguments that run a server command as a user PostgreSQL accepts."""
    if os.geteuid() != 0:
        return {}
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root without a 'postgres' user to run PostgreSQL as")
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


class PostgresPair:
    """Primary + synchronous streaming standby; `stop()` stops both and removes them."""

    def __init__(self) -> None:
        self.bin = postgres_binaries()
        self.as_server = _server_user()
        self.root = Path(tempfile.mkdtemp(prefix="idp-pg-pair-"))
        if self.as_server:
            os.chown(self.root, self.as_server["user"], self.as_server["group"])
        self.primary_dir, self.standby_dir = self.root / "primary", self.root / "standby"
        self.primary_port, self.standby_port = free_port(), free_port()
        self.promoted = False

    def _run(self, *command: str, **options) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin / command[0]), *command[1:]], check=True,  # noqa: S603
                              capture_output=True, text=True, **self.as_server, **options)

    def start(self, *, standby: bool = True) -> PostgresPair:
        """The primary, and unless `standby` is False its synchronous standby."""
        self._run("initdb", "-D", str(self.primary_dir), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-locale")
        with (self.primary_dir / "postgresql.conf").open("a") as conf:
            conf.write("listen_addresses = '127.0.0.1'\nwal_level = replica\n"
                       "max_wal_senders = 5\nhot_standby = on\nfsync = off\n"
                       "synchronous_commit = on\nmax_connections = 100\n"
                       + ("synchronous_standby_names = '*'\n" if standby else ""))
        self._pg_ctl(self.primary_dir, self.primary_port, "start")
        if not standby:
            return self
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port),
                  "-U", "postgres", "-D", str(self.standby_dir), "-R", "-X", "stream")
        with (self.standby_dir / "postgresql.auto.conf").open("a") as conf:
            conf.write("synchronous_standby_names = ''\n")
        self._pg_ctl(self.standby_dir, self.standby_port, "start")
        self._wait_for_sync_standby()
        return self

    def _pg_ctl(self, data: Path, port: int, action: str, *extra: str) -> None:
        self._run("pg_ctl", "-D", str(data), "-l", str(data / "server.log"), "-w",
                  "-o", f"-p {port} -k {self.root}", action, *extra)

    def _wait_for_sync_standby(self, seconds: float = 30) -> None:
        engine = create_engine(self.admin_url(self.primary_port))
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                with engine.connect() as connection:
                    states = connection.execute(
                        text("SELECT sync_state FROM pg_stat_replication")).scalars().all()
                if states == ["sync"]:
                    return
                time.sleep(0.2)
        finally:
            engine.dispose()
        raise RuntimeError(f"the standby never became synchronous; logs in {self.root}")

    def admin_url(self, port: int) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def create_database(self, name: str) -> str:
        """A new database on the primary (streamed to the standby); the provider's URL of it:
        both hosts, whichever accepts writes."""
        engine = create_engine(self.admin_url(self.primary_port), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return (f"postgresql+psycopg://postgres@/{name}?host=127.0.0.1:{self.primary_port}"
                f"&host=127.0.0.1:{self.standby_port}&target_session_attrs=read-write"
                "&connect_timeout=2")

    def base_backup(self) -> Path:
        """The nightly backup of docs/operations.md: pg_basebackup of the primary, tar
        format, compressed, with the WAL it needs to be consistent; its directory."""
        target = self.root / "backup"
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port),
                  "-U", "postgres", "-D", str(target), "-Ft", "-z", "-X", "stream",
                  "--checkpoint=fast")
        return target

    def restore(self, backup: Path, port: int) -> Path:
        """The restore drill of docs/operations.md: unpack a base backup into a fresh data
        directory and start it on `port`, alone (no synchronous partner to wait for)."""
        data = self.root / f"restored-{port}"
        subprocess.run(["install", "-d", "-m", "700", str(data)], check=True,  # noqa: S603,S607
                       **self.as_server)
        for archive, into in (("base.tar.gz", data), ("pg_wal.tar.gz", data / "pg_wal")):
            subprocess.run(["tar", "-xzf", str(backup / archive), "-C", str(into)],  # noqa: S603,S607
                           check=True, **self.as_server)
        with (data / "postgresql.auto.conf").open("a") as conf:
            conf.write("synchronous_standby_names = ''\n")
        self._pg_ctl(data, port, "start")
        return data

    def crash_primary(self) -> None:
        """The primary dies at once (immediate shutdown: no checkpoint, like a crash)."""
        self._run("pg_ctl", "-D", str(self.primary_dir), "-m", "immediate", "stop")

    def promote_standby(self) -> None:
        self._run("pg_ctl", "-D", str(self.standby_dir), "-w", "promote")
        self.promoted = True

    def stop(self) -> None:
        for data in self.root.iterdir():
            if (data / "postmaster.pid").exists():
                subprocess.run([str(self.bin / "pg_ctl"), "-D", str(data), "-m", "fast",  # noqa: S603
                                "-w", "stop"], capture_output=True, **self.as_server)
        shutil.rmtree(self.root, ignore_errors=True)
