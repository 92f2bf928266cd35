"""The cluster of `bench/soak.py --faults`, and the faults it suffers during the load.

Two provider nodes (`idp serve`) behind HAProxy (plain HTTP, /readyz health checks, a
request a stopped node refused retried on the other), a PostgreSQL primary with a
synchronous streaming standby, a Redis primary with a replica and three sentinels: every
server our own process on loopback (the test suite's helpers: tests/own_postgres.py,
tests/own_redis.py, tests/tls_front.py). The faults:

  redis     SIGKILL the Redis primary; over when the sentinels name the replica primary
  postgres  crash the PostgreSQL primary (immediate stop), promote the standby 2 s later;
            over when the promotion is done
  node      restart provider node B (SIGTERM, a fresh `idp serve`); over when it is ready

Each fault opens a window at the moment it is injected; the soak reports every error with
the window it fell in (an error in no window is a failure of the run).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench import REPO, log
from bench.machine import children, proc_cpu_ticks
from bench.servers import ARGON2, LIFTED_LIMITS, BenchProvider, limits_config
from tests.live import free_port, stop_process, wait_for
from tests.own_postgres import PostgresPair
from tests.own_redis import RedisSentinelSet
from tests.tls_front import HaproxyFront

PROMOTE_AFTER = 2.0
"""Seconds between the PostgreSQL primary's crash and the standby's promotion (what an
operator or a failover manager takes to decide)."""


@dataclass
class FaultWindow:
    name: str
    started: float
    """time.monotonic() when the fault was injected."""
    recovered: float
    """When the harness saw the component back (new primary, promotion, node ready)."""


class Node:
    """One `idp serve` (gunicorn master and workers) with its own config and log."""

    def __init__(self, directory: Path, config: Path, url: str) -> None:
        self.directory, self.config, self.url = directory, config, url
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log_file = (self.directory / "idp.log").open("a")
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "idp.cli", "--config", str(self.config), "serve"],
            stdout=log_file, stderr=subprocess.STDOUT, cwd=REPO)
        wait_for(self.url + "/readyz", process=self.process, log=self.directory / "idp.log")

    def stop(self) -> None:
        stop_process(self.process)

    def pids(self) -> list[int]:
        if self.process is None or self.process.poll() is not None:
            return []
        return [self.process.pid, *children(self.process.pid)]


class FaultCluster(BenchProvider):
    """The soak's provider, as BenchProvider is for a plain soak (the virtual users and the
    meters use the same methods), but made of the parts above. BenchProvider's __init__
    (one node, the shared servers) is replaced; its portal, account and OTP helpers stay."""

    def __init__(self, directory: Path, *, workers: int, threads: int) -> None:  # noqa: D107
        from idp.config import load_settings
        from idp.db import make_engine
        from idp.migrate import upgrade
        from keys import ensure_keys, make_backends

        self.directory, self.database = directory, "postgresql"
        self.redis = RedisSentinelSet(self._dir("redis"))
        self.pg = PostgresPair()
        self.front: HaproxyFront | None = None
        self.nodes: list[Node] = []
        self._server_ticks: dict[int, int] = {}
        self._database_ticks: dict[int, int] = {}
        try:
            self.redis.start()
            self.pg.start()
        except BaseException:
            self.redis.stop()
            self.pg.stop()
            raise
        url = self.pg.create_database("idp")
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key_prefix = f"idpfault:{uuid.uuid4().hex[:6]}:"  # one for both nodes
        for name in ("a", "b"):
            port = free_port()
            node_dir = self._dir(f"node-{name}")
            config = node_dir / "idp.toml"
            config.write_text(self._config(url, port, workers, threads), encoding="utf-8")
            self.nodes.append(Node(node_dir, config, f"http://127.0.0.1:{port}"))
        self.config = self.nodes[0].config
        self.settings = load_settings(self.config)
        upgrade(self.settings)
        self.engine = make_engine(self.settings.database_url)
        with Session(self.engine) as session:
            ensure_keys(session, make_backends(self.settings.keys)["software"])
            session.commit()
        self.process = None

    def _dir(self, name: str) -> Path:
        path = self.directory / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _config(self, url: str, port: int, workers: int, threads: int) -> str:
        return (
            "[server]\n"
            f'issuer = "{self.issuer}"\nport = {port}\nworkers = {workers}\n'
            f"threads = {threads}\ntrust_proxy_headers = 1\n"
            'secret_key = "bench-secret-key-0123456789abcdefghij"\n'
            'pairwise_salt = "bench-pairwise-salt"\n'
            f'[database]\nurl = "{url}"\n'
            f"[state]\n{self.redis.state_config(self.key_prefix)}\n"
            '[keys]\npassphrase = "bench-key-passphrase"\n'
            f"[passwords]\nmemory_kib = {ARGON2['memory_kib']}\n"
            f"time_cost = {ARGON2['time_cost']}\nparallelism = {ARGON2['parallelism']}\n"
            "[session]\ncookie_secure = false\n"
            + limits_config(LIFTED_LIMITS)
            + f'[sms]\noutbox_path = "{self.directory / "sms.jsonl"}"\n')

    def start(self) -> FaultCluster:
        for node in self.nodes:
            node.start()
        backends = [node.url.removeprefix("http://") for node in self.nodes]
        self.front = HaproxyFront(self._dir("front"), backends, port=self.port, tls=False)
        self.front.start()
        return self

    def stop(self) -> None:
        for part in (self.front, *self.nodes):
            if part is not None:
                part.stop()
        self.engine.dispose()
        self.redis.stop()
        self.pg.stop()

    def worker_pids(self) -> list[int]:
        return [pid for node in self.nodes for pid in node.pids()[1:]]

    @staticmethod
    def _accumulated(seen: dict[int, int], pids: list[int]) -> int:
        """CPU ticks of `pids` and of every process seen in `seen` before: a killed or
        restarted process keeps counting what it used (else a window's CPU goes negative)."""
        for pid in pids:
            seen[pid] = max(seen.get(pid, 0), proc_cpu_ticks(pid))
        return sum(seen.values())

    def cpu_ticks(self) -> int:
        return self._accumulated(self._server_ticks,
                                 [pid for node in self.nodes for pid in node.pids()])

    def db_cpu_ticks(self) -> int:
        """PostgreSQL (both servers and their backends) and every Redis process."""
        pids = [process.pid for process in self.redis.processes.values()]
        for data in (self.pg.primary_dir, self.pg.standby_dir):
            try:
                postmaster = int((data / "postmaster.pid").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            pids += [postmaster, *children(postmaster)]
        return self._accumulated(self._database_ticks, pids)

    # --- the faults ----------------------------------------------------------------------

    def kill_redis_primary(self) -> FaultWindow:
        started = time.monotonic()
        old = self.redis.kill_primary()
        new = self.redis.wait_for_new_primary(old)
        log(f"FAULT redis: primary :{old} killed, :{new} is primary after "
            f"{time.monotonic() - started:.1f} s")
        return FaultWindow("redis primary killed", started, time.monotonic())

    def fail_over_postgres(self) -> FaultWindow:
        started = time.monotonic()
        self.pg.crash_primary()
        time.sleep(PROMOTE_AFTER)
        self.pg.promote_standby()
        log(f"FAULT postgres: primary crashed, standby promoted after "
            f"{time.monotonic() - started:.1f} s")
        return FaultWindow("postgresql primary crashed, standby promoted", started,
                           time.monotonic())

    def restart_node(self) -> FaultWindow:
        node = self.nodes[1]
        started = time.monotonic()
        node.stop()
        node.start()
        log(f"FAULT node: {node.url} restarted, ready after {time.monotonic() - started:.1f} s")
        return FaultWindow("provider node B restarted", started, time.monotonic())

    # --- what must not be lost -----------------------------------------------------------

    def rows_lost(self, refresh_tokens: list[str], logins: int) -> dict:
        """Of the refresh tokens a client was answered with, how many the database (the
        promoted standby by now) lacks; whether it holds a login audit row for every login
        answered; whether `idp audit verify` passes."""
        digests = {hashlib.sha256(token.encode()).hexdigest() for token in refresh_tokens}
        engine = create_engine(self.settings.database_url)
        try:
            with engine.connect() as connection:
                stored = set(connection.execute(text(
                    "SELECT token_digest FROM refresh_tokens")).scalars())
                audited = connection.execute(text(
                    "SELECT count(*) FROM audit_events WHERE event = 'login' "
                    "AND result = 'success'")).scalar_one()
        finally:
            engine.dispose()
        verify = subprocess.run(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "idp.cli", "--config", str(self.config), "audit", "verify"],
            capture_output=True, text=True, cwd=REPO)
        return {"refresh_tokens_acknowledged": len(digests),
                "refresh_tokens_lost": len(digests - stored),
                "logins_acknowledged": logins, "login_audit_rows": audited,
                "logins_lost": max(0, logins - audited),
                "audit_verify": "intact" if verify.returncode == 0 else
                verify.stdout[-300:] + verify.stderr[-300:]}


# --- the schedule and the report -----------------------------------------------------------

SCHEDULE = (("redis", 0.25), ("postgres", 0.5), ("node", 0.75))
"""Which fault, at which fraction of the run."""


def inject_faults(cluster: FaultCluster, start: float, total: float, windows: list,
                  stop) -> None:
    """Inject each fault of SCHEDULE at its time (a thread beside the virtual users)."""
    inject = {"redis": cluster.kill_redis_primary, "postgres": cluster.fail_over_postgres,
              "node": cluster.restart_node}
    for name, fraction in SCHEDULE:
        if stop.wait(max(0.0, start + fraction * total - time.monotonic())):
            return
        windows.append(inject[name]())


def fault_report(windows: list[FaultWindow], error_times: list[tuple[float, str]],
                 start: float, grace: float) -> dict:
    """Each window with its length and the errors inside it; the errors inside none."""
    report, outside = [], []
    placed = {index: [] for index in range(len(windows))}
    for at, kind in error_times:
        index = next((i for i, w in enumerate(windows)
                      if w.started <= at <= w.recovered + grace), None)
        (outside if index is None else placed[index]).append((at, kind))
    for index, window in enumerate(windows):
        errors = placed[index]
        kinds: dict[str, int] = {}
        for _, kind in errors:
            kinds[kind] = kinds.get(kind, 0) + 1
        report.append({
            "fault": window.name, "at_s": round(window.started - start, 1),
            "recovered_after_s": round(window.recovered - window.started, 1),
            "errors": len(errors), "errors_by_kind": kinds,
            "last_error_after_s": round(max(at for at, _ in errors) - window.started, 1)
            if errors else None})
    return {"windows": report, "grace_s": grace, "errors_outside_windows": len(outside),
            "outside": [{"at_s": round(at - start, 1), "kind": kind} for at, kind in outside]}


def print_fault_report(report: dict, lost: dict) -> None:
    print(f"  fault windows (from the fault until {report['grace_s']:g} s after the component "
          "is back):")
    for window in report["windows"]:
        last = window["last_error_after_s"]
        print(f"    at {window['at_s']:6.1f} s  {window['fault']}: back after "
              f"{window['recovered_after_s']} s; {window['errors']} error(s) "
              f"{window['errors_by_kind'] or ''}"
              + (f", the last {last} s after the fault" if last is not None else ""))
    print(f"  errors outside the windows: {report['errors_outside_windows']} "
          f"{report['outside'][:5] or ''}")
    print(f"  rows lost: {lost.get('refresh_tokens_lost')} of "
          f"{lost.get('refresh_tokens_acknowledged')} acknowledged refresh tokens; logins "
          f"answered {lost.get('logins_acknowledged')}, login audit rows "
          f"{lost.get('login_audit_rows')}; idp audit verify: {lost.get('audit_verify')}")
