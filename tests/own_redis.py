"""A Redis primary, one replica and three sentinels of our own on loopback (Debian's
redis-server, which runs as a sentinel with --sentinel), each on a free port with its
files in a directory of the test: the shared Redis on 6379 is never touched.

The sentinels declare the primary down after DOWN_AFTER_MS without an answer and need
two of the three to agree (quorum 2), so a killed primary is replaced in a few seconds.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.live import free_port

SERVICE = "idp"
DOWN_AFTER_MS = 1000


def redis_server_binary() -> str:
    """The redis-server binary; skips the test, saying why, when it is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed (scripts/bootstrap.sh --failover installs it)")
    return binary


class RedisSentinelSet:
    """Primary + replica + 3 sentinels; `stop()` ends every process it started."""

    def __init__(self, directory: Path) -> None:
        self.binary = redis_server_binary()
        self.directory = directory
        self.processes: dict[int, subprocess.Popen] = {}
        self.primary_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]

    def start(self) -> RedisSentinelSet:
        self._server(self.primary_port)
        self._server(self.replica_port, "--replicaof", "127.0.0.1", str(self.primary_port))
        for port in self.sentinel_ports:
            config = self.directory / f"sentinel-{port}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.directory}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary_port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {SERVICE} 10000\n"
                f"sentinel parallel-syncs {SERVICE} 1\n")
            self._start(port, [self.binary, str(config), "--sentinel"])
        self._wait_until_ready()
        return self

    def _server(self, port: int, *extra: str) -> None:
        self._start(port, [self.binary, "--port", str(port), "--bind", "127.0.0.1",
                           "--dir", str(self.directory), "--dbfilename", f"dump-{port}.rdb",
                           "--save", "", "--appendonly", "no", *extra])

    def _start(self, port: int, command: list[str]) -> None:
        log = (self.directory / f"redis-{port}.log").open("w")
        self.processes[port] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def _wait_until_ready(self, seconds: float = 30) -> None:
        """Until the replica is in sync and every sentinel knows the replica and the
        other two sentinels (a failover needs all of that)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                info = self.client(self.replica_port).info("replication")
                ready = info.get("master_link_status") == "up" and all(
                    self._sentinel_view(port) == (1, 2) for port in self.sentinel_ports)
            except redis.RedisError:
                ready = False
            if ready:
                return
            time.sleep(0.2)
        raise RuntimeError(f"Redis sentinel set not ready; logs in {self.directory}")

    def _sentinel_view(self, port: int) -> tuple[int, int]:
        state = self.client(port).sentinel_master(SERVICE)
        return int(state["num-slaves"]), int(state["num-other-sentinels"])

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)

    def current_primary(self) -> int | None:
        """The primary's port as the sentinels agree on it now (None while they differ)."""
        seen = set()
        for port in self.sentinel_ports:
            try:
                _host, primary = self.client(port).sentinel_get_master_addr_by_name(SERVICE)
                seen.add(int(primary))
            except redis.RedisError:
                continue
        return seen.pop() if len(seen) == 1 else None

    def kill_primary(self) -> int:
        """SIGKILL the primary (no goodbye to the replica); returns its port."""
        port = self.current_primary()
        self.processes[port].send_signal(signal.SIGKILL)
        self.processes[port].wait(timeout=10)
        return port

    def wait_for_new_primary(self, old_port: int, seconds: float = 30) -> int:
        """Until the sentinels name another primary and it accepts writes; its port."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            port = self.current_primary()
            if port not in (None, old_port):
                try:
                    if self.client(port).info("replication")["role"] == "master":
                        return port
                except redis.RedisError:
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"no failover within {seconds} s; logs in {self.directory}")

    def state_config(self, prefix: str) -> str:
        """The provider's [state] lines for this set."""
        sentinels = ", ".join(f'"127.0.0.1:{port}"' for port in self.sentinel_ports)
        return (f'backend = "redis"\nredis_url = "redis://127.0.0.1:6379/0"\n'
                f'key_prefix = "{prefix}"\nsentinels = [{sentinels}]\n'
                f'sentinel_service = "{SERVICE}"')

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
