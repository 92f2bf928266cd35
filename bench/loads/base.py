"""What every load works with: the run in progress (Bench: the provider, its portal, the
login grants the loads take tokens from, the results so far) and its entry in the table."""

from __future__ import annotations

import argparse
import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import log
from bench.drivers import LoadResult, python_load, refresh_once, wrk_load
from bench.machine import wait_until_idle
from bench.report import progress
from bench.servers import BenchProvider
from tests.live import TimedLogin

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Load:
    """A named load of the table LOADS."""

    run: Callable[[Bench], None]
    """Measures the load with each tool (Bench.measured), adding its results to the bench."""
    after_references: bool = False
    """Measured at the end of the run, after the reference servers (--reference)."""


def form_headers(authorization: str) -> dict[str, str]:
    return {"Authorization": authorization, "Content-Type": FORM}


class Bench:
    """One run of the benchmark against one provider."""

    def __init__(self, args: argparse.Namespace, provider: BenchProvider, directory: Path,
                 tools: list[str]) -> None:
        self.args, self.provider, self.directory, self.tools = args, provider, directory, tools
        self.processes, self.per_process = args.clients, args.connections
        self.concurrency = self.processes * self.per_process
        self.results: list[LoadResult] = []
        self.login_summary: dict | None = None
        self.floors: dict = {}
        self.profiles: dict = {}
        self.references: list = []
        """Reference servers started (--reference), stopped at the end."""
        self.not_measured: dict[str, str] = {}
        """References that could not start or failed under load (--reference): why."""

    def prepare(self) -> None:
        """Register the portal and the citizen, start the provider, and log in: one grant per
        refresh chain, plus one whose refresh token mints the access tokens of the loads."""
        provider = self.provider
        self.portal = provider.add_portal("bench-portal", id_token_alg=self.args.id_token_alg)
        self.client_id, self.secret = self.portal.client_id, self.portal.secret
        provider.add_account()
        provider.start()
        log(f"provider up at {provider.issuer} (master pid {provider.process.pid}, "
            f"workers {provider.worker_pids()})")
        self.basic = "Basic " + base64.b64encode(
            f"{self.client_id}:{self.secret}".encode()).decode()
        self.grants: list[TimedLogin] = []
        for i in range(self.concurrency + 1):
            self.grants.append(self.login())
            if i == 0:
                log(f"first login ok ({self.grants[0].requests} HTTP requests, consent given: "
                    f"{self.grants[0].consent}, {self.grants[0].seconds * 1000:.0f} ms)")
        log(f"{len(self.grants)} login grants obtained (refresh chains: {self.concurrency})")
        self.chain_tokens = [g.tokens["refresh_token"] for g in self.grants[:self.concurrency]]
        self.spare_refresh = self.grants[-1].tokens["refresh_token"]

    def login(self) -> TimedLogin:
        return self.provider.login(self.portal)

    def refresh(self, token: str) -> dict:
        return refresh_once(self.provider, self.client_id, self.secret, token)

    def fresh_access_token(self) -> str:
        tokens = self.refresh(self.spare_refresh)
        self.spare_refresh = tokens["refresh_token"]
        return tokens["access_token"]

    def measured(self, what: str, run: Callable[[], LoadResult]) -> LoadResult:
        """Run a load; while other work on the machine used more than --other-limit
        cores during it, wait for the machine to go idle and run it again (at most
        --retries times). Keeps the least disturbed run."""
        args = self.args
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
        self.results.append(best)
        return best

    def wrk(self, name: str, path: str, headers: dict | None = None, *, server=None,
            **options) -> tuple[LoadResult, str]:
        """wrk_load against `server` (the provider) with the run's threads, connections,
        seconds and warm-up, unless `options` say otherwise."""
        options = {"threads": self.args.wrk_threads, "connections": self.concurrency,
                   "seconds": self.args.seconds, "warmup": self.args.warmup, **options}
        return wrk_load(name, server or self.provider, path, headers or {}, **options)

    def python(self, name: str, job: dict, *, server=None,
               **options) -> tuple[LoadResult, list[str]]:
        """python_load against `server` (the provider) with the run's client processes,
        connections, seconds and warm-up, unless `options` say otherwise."""
        options = {"processes": self.processes, "connections": self.per_process,
                   "seconds": self.args.seconds, "warmup": self.args.warmup, **options}
        return python_load(name, server or self.provider, job, **options)

    def get_load(self, name: str, server, path: str, headers: dict, which: str) -> LoadResult:
        """GET `path` of `server` with `which` tool."""
        if which == "wrk":
            return self.wrk(name, path, headers, server=server)[0]
        return self.python(name, {"kind": "get", "path": path, "headers": headers},
                           server=server)[0]

    def measure_get(self, name: str, path: str, bearer: bool = False) -> None:
        """A GET load of the provider with each tool; `bearer`: with a fresh access token."""
        for which in self.tools:

            def run(which: str = which) -> LoadResult:
                headers = {}
                if bearer:
                    headers["Authorization"] = "Bearer " + self.fresh_access_token()
                return self.get_load(name, self.provider, path, headers, which)

            self.measured(f"{name}: {self.args.seconds:g} s with {which}", run)
