#!/usr/bin/env python
"""Bounded soak test: mixed traffic against the real provider for --minutes (issue
"Production shape").

Starts the provider like bench/run.py does (`idp serve` under gunicorn on a free loopback
port, a fresh SQLite or PostgreSQL + Redis database, the production argon2id parameters),
registers one portal (with a post-logout redirect URI) and one account per virtual user,
each with its own CCCD and phone, so that concurrent logins never read each other's SMS OTP.
Then --users virtual users (threads) loop, with a short random think time between requests:

  login      the whole browser flow (authorize → password → SMS OTP → consent the first time
             → code → token exchange), timed as one
  refresh    the refresh_token grant with rotation (each uses the token the last returned)
  userinfo   GET /userinfo with the current access token (--userinfo per refresh)
  logout     RP-initiated logout: GET /logout with the ID token as id_token_hint and the
             registered post_logout_redirect_uri, from the same browser; it must redirect
             there and end the browser's SSO session

(--refreshes refresh + userinfo rounds per cycle), then a fresh browser logs in again.

Every --sample-seconds it prints a progress line (requests and p99 per kind, errors, the RSS
of each gunicorn worker, CPU of server, database and load generator). At the end it prints
the verdicts — zero errors; memory growth of the workers after the first window (the warm-up)
under MEMORY_GROWTH_LIMIT; p99 of the last window within P99_RATIO_LIMIT of the first — and
writes everything as JSON to --output (bench/results/soak-<database>.json). It exits 1 when
any request failed.

    .venv/bin/python bench/soak.py                                # 10 min, SQLite, 2 workers
    .venv/bin/python bench/soak.py --database postgresql          # PostgreSQL + Redis
    .venv/bin/python bench/soak.py --minutes 1 --sample-seconds 15

--faults runs the same load on a cluster of our own (bench/faults.py: two nodes behind
HAProxy, a PostgreSQL primary with a synchronous standby, Redis with a replica and three
sentinels) and, at a quarter, half and three quarters of the run, kills the Redis primary,
crashes the PostgreSQL primary and promotes the standby, and restarts one provider node.
Its verdicts: every error inside a fault window (from the fault until FAULT_GRACE seconds
after the component is back; each window's length and its last error are printed), no
row lost (every refresh token and login a client was answered is in the promoted
database, `idp audit verify` passes), and the memory verdict as above.

    .venv/bin/python bench/soak.py --faults                       # 10 min, the three faults
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from run import (  # noqa: E402
    ARGON2,
    PASSWORD,
    RESULTS,
    TICK,
    BenchProvider,
    _percentile,
    browser_login,
    busy_ticks,
    log,
    machine_busy,
)

KINDS = ("login", "refresh", "userinfo", "logout")
POST_LOGOUT = "http://127.0.0.1:9/logged-out"  # never contacted: the redirect is only checked
MEMORY_GROWTH_LIMIT = 0.10  # growth of the workers' total RSS after the warm-up window
P99_RATIO_LIMIT = 1.5  # p99 of the last window / p99 of the first, for every kind
FIRST_ERRORS = 10  # error messages kept
LOG_LINE_KEPT = 300  # characters kept of each provider log line quoted in the results
FAULT_GRACE = 10.0
"""Seconds after a component is back in which errors still count as its fault's: what
the nodes take to reach it (connection pools, the sentinels' answer, health checks)."""
MIB = 1024  # KiB per MiB (VmRSS is in KiB)

NAMES = ["Nguyễn Văn An", "Trần Minh Khoa", "Lê Hoàng Nam", "Phạm Quốc Bảo", "Hoàng Đức Long",
         "Vũ Thanh Tùng", "Đặng Hữu Phúc", "Bùi Gia Huy"]


def person(index: int) -> dict:
    """A valid citizen: CCCD 001 (Hà Nội), century digit 0 = a man born in the 1900s, year 85
    (so born 1985), then 6 digits; a Vinaphone mobile number of its own."""
    return {"cccd": f"001085{900001 + index:06d}", "full_name": NAMES[index % len(NAMES)],
            "birthdate": "1985-03-15", "gender": "male", "phone": f"+849112{46000 + index:05d}",
            "email": f"soak{index}@example.vn"}


# --- what the virtual users record ---------------------------------------------------------


class Recorder:
    """Latencies and errors of the current window, shared by the virtual users."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
        self.errors: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.first_errors: list[dict] = []
        self.error_times: list[tuple[float, str]] = []
        self.acknowledged: list[str] = []
        """Every refresh token a 200 answer gave (the fault soak checks none was lost)."""
        self.logins = 0
        self.http_requests = 0
        self.started = time.monotonic()

    def ok(self, kind: str, seconds: float, http_requests: int = 1) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            self.http_requests += http_requests

    def acknowledge(self, refresh_token: str, login: bool = False) -> None:
        with self.lock:
            self.acknowledged.append(refresh_token)
            self.logins += login

    def error(self, kind: str, message: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            self.error_times.append((time.monotonic(), kind))
            if len(self.first_errors) < FIRST_ERRORS:
                self.first_errors.append({"kind": kind, "at_s": round(
                    time.monotonic() - self.started, 1), "message": message[:500]})
        log(f"  ERROR {kind}: {message[:300]}")

    def take(self) -> tuple[dict[str, list[float]], dict[str, int], int]:
        """This window's latencies, errors and HTTP request count; starts the next window."""
        with self.lock:
            taken = self.latencies, self.errors, self.http_requests
            self.latencies = {kind: [] for kind in KINDS}
            self.errors = dict.fromkeys(KINDS, 0)
            self.http_requests = 0
        return taken


# --- a virtual user --------------------------------------------------------------------------


class Failed(Exception):
    """An unexpected answer: counted as an error of the request's kind."""


def virtual_user(index: int, provider: BenchProvider, client_id: str, secret: str,
                 args: argparse.Namespace, recorder: Recorder, stop: threading.Event) -> None:
    """Log in, refresh + userinfo for a while, log out, again; until `stop`."""
    import requests

    from idp.sessions import SESSION_COOKIE

    who = person(index)
    base = provider.issuer
    api = requests.Session()  # the portal's back end, for the token and userinfo calls

    def pause() -> bool:
        """Think time (random, so users do not march in step); True when it is time to stop."""
        return stop.wait(random.uniform(0.5, 1.5) * args.think)

    def timed(kind: str, method: str, path: str, **kwargs) -> requests.Response:
        t0 = time.perf_counter()
        response = api.request(method, base + path, timeout=30, allow_redirects=False, **kwargs)
        seconds = time.perf_counter() - t0
        if response.status_code != 200:
            raise Failed(f"{method} {path} -> {response.status_code}: {response.text[:300]}")
        recorder.ok(kind, seconds)
        return response

    def cycle() -> None:
        browser = requests.Session()  # a fresh browser: no SSO session yet
        try:
            kind = "login"
            done = browser_login(provider, client_id, secret, cccd=who["cccd"],
                                 password=PASSWORD, phone=who["phone"], browser=browser)
            recorder.ok("login", done.seconds, done.requests)
            if browser.cookies.get(SESSION_COOKIE) is None:
                raise Failed("no SSO session cookie after the login")
            tokens = done.tokens
            recorder.acknowledge(tokens["refresh_token"], login=True)
            for _ in range(args.refreshes):
                for _ in range(args.userinfo):
                    if pause():
                        return
                    kind = "userinfo"
                    claims = timed("userinfo", "GET", "/userinfo", headers={
                        "Authorization": "Bearer " + tokens["access_token"]}).json()
                    if not claims.get("sub"):
                        raise Failed(f"userinfo without sub: {claims}")
                if pause():
                    return
                kind = "refresh"
                fresh = timed("refresh", "POST", "/token", auth=(client_id, secret), data={
                    "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
                ).json()
                if not {"access_token", "refresh_token", "id_token"} <= fresh.keys():
                    raise Failed(f"refresh answer without the tokens: {sorted(fresh)}")
                if fresh["refresh_token"] == tokens["refresh_token"]:
                    raise Failed("the refresh token was not rotated")
                tokens = fresh
                recorder.acknowledge(tokens["refresh_token"])
            if pause():
                return
            kind = "logout"
            state = f"bye-{random.getrandbits(32):x}"
            t0 = time.perf_counter()
            response = browser.get(base + "/logout", timeout=30, allow_redirects=False, params={
                "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": POST_LOGOUT,
                "state": state})
            seconds = time.perf_counter() - t0
            location = response.headers.get("Location", "")
            if response.status_code != 302 or location != f"{POST_LOGOUT}?state={state}":
                raise Failed(f"logout -> {response.status_code} {location!r}: "
                             f"{response.text[:300]}")
            # The provider clears the cookie only when it ended the browser's SSO session.
            if browser.cookies.get(SESSION_COOKIE) is not None:
                raise Failed("logout redirected but left the SSO session cookie")
            recorder.ok("logout", seconds)
        except Exception as exc:  # any failure is the request's error, then a new cycle
            recorder.error(kind, f"{type(exc).__name__}: {exc}")
            stop.wait(1.0)  # do not spin on a broken provider
        finally:
            browser.close()

    stop.wait(index * args.think)  # staggered start
    while not stop.is_set():
        cycle()
        pause()
    api.close()


# --- the measurements of a window ------------------------------------------------------------


def rss_kib(pid: int) -> int | None:
    """Resident set size of a process (VmRSS, KiB), None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) if match else None


def worker_rss(provider: BenchProvider) -> dict[int, int]:
    return {pid: kib for pid in sorted(provider.worker_pids())
            if (kib := rss_kib(pid)) is not None}


def kind_stats(latencies: list[float], seconds: float) -> dict:
    ordered = sorted(latencies)
    if not ordered:
        return {"count": 0, "per_s": 0.0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"count": len(ordered), "per_s": round(len(ordered) / seconds, 2),
            "p50_ms": round(_percentile(ordered, 0.50) * 1000, 2),
            "p99_ms": round(_percentile(ordered, 0.99) * 1000, 2),
            "max_ms": round(ordered[-1] * 1000, 2)}


class Meter:
    """CPU counters between two window boundaries."""

    def __init__(self, provider: BenchProvider) -> None:
        self.provider = provider
        self.at = self.read()

    def read(self) -> tuple[float, int, int, float, int]:
        times = os.times()
        return (time.monotonic(), self.provider.cpu_ticks(), self.provider.db_cpu_ticks(),
                times.user + times.system, busy_ticks())

    def window(self) -> dict:
        now = self.read()
        (t0, srv0, db0, cli0, all0), (t1, srv1, db1, cli1, all1) = self.at, now
        self.at = now
        wall = max(t1 - t0, 1e-9)
        server, db = (srv1 - srv0) / TICK / wall, (db1 - db0) / TICK / wall
        client = (cli1 - cli0) / wall
        other = (all1 - all0) / TICK / wall - server - db - client
        return {"server": round(server, 3), "database": round(db, 3),
                "load_generator": round(client, 3), "other": round(other, 3)}


def close_window(index: int, start: float, began: float, recorder: Recorder, meter: Meter,
                 provider: BenchProvider) -> dict:
    latencies, errors, http_requests = recorder.take()
    now = time.monotonic()
    seconds = now - began
    window = {
        "index": index, "start_s": round(began - start, 1), "end_s": round(now - start, 1),
        "kinds": {kind: kind_stats(latencies[kind], seconds) for kind in KINDS},
        "errors": errors, "http_requests": http_requests,
        "rss_kib": worker_rss(provider), "cpu_cores": meter.window(),
    }
    counts = " ".join(f"{kind} {window['kinds'][kind]['count']}" for kind in KINDS)
    p99s = " ".join(f"{kind} {fmt_ms(window['kinds'][kind]['p99_ms'])}" for kind in KINDS)
    rss = " ".join(f"{kib / MIB:.1f}" for kib in window["rss_kib"].values())
    cpu = window["cpu_cores"]
    log(f"{window['end_s'] / 60:5.2f} min | requests: {counts} ({http_requests} HTTP) | "
        f"p99 ms: {p99s} | errors {sum(errors.values())} | worker RSS MiB: {rss} | CPU cores: "
        f"server {cpu['server']:.2f} db {cpu['database']:.2f} "
        f"load generator {cpu['load_generator']:.2f} other {cpu['other']:.2f}")
    return window


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


# --- the verdicts ----------------------------------------------------------------------------


def memory_verdict(windows: list[dict], before: dict[int, int]) -> dict:
    """Growth of the workers' total RSS from the end of the first window (the warm-up: imports,
    caches, connection pools) to the end of the last; with a single window, from before any
    traffic. Also the slope over the windows after the warm-up (MiB per minute)."""
    baseline = windows[0] if len(windows) > 1 else {"rss_kib": before, "end_s": 0.0}
    start, end = sum(baseline["rss_kib"].values()), sum(windows[-1]["rss_kib"].values())
    growth = (end - start) / MIB
    ratio = (end - start) / start if start else float("nan")
    points = [(w["end_s"] / 60, sum(w["rss_kib"].values()) / MIB) for w in windows
              if w["end_s"] >= baseline["end_s"]]
    slope = None
    if len(points) >= 3:
        mx = sum(x for x, _ in points) / len(points)
        my = sum(y for _, y in points) / len(points)
        var = sum((x - mx) ** 2 for x, _ in points)
        slope = sum((x - mx) * (y - my) for x, y in points) / var if var else None
    per_worker = {str(pid): {"start_mib": round(kib / MIB, 2),
                             "end_mib": round(windows[-1]["rss_kib"].get(pid, 0) / MIB, 2)}
                  for pid, kib in baseline["rss_kib"].items()}
    return {"baseline": "end of window 0 (warm-up)" if len(windows) > 1 else "before traffic",
            "before_traffic_mib": round(sum(before.values()) / MIB, 2),
            "start_mib": round(start / MIB, 2), "end_mib": round(end / MIB, 2),
            "growth_mib": round(growth, 2), "growth_ratio": round(ratio, 4),
            "slope_mib_per_min": None if slope is None else round(slope, 3),
            "per_worker": per_worker, "limit_ratio": MEMORY_GROWTH_LIMIT,
            "ok": ratio < MEMORY_GROWTH_LIMIT}


def p99_verdict(windows: list[dict]) -> dict:
    """Per kind: p99 of each window, last / first, and max / min over the windows."""
    kinds = {}
    for kind in KINDS:
        series = [w["kinds"][kind]["p99_ms"] for w in windows]
        present = [value for value in series if value is not None]
        first = next((v for v in series if v is not None), None)
        last = series[-1] if series else None
        kinds[kind] = {
            "p99_ms_by_window": series,
            "last_over_first": round(last / first, 3) if first and last else None,
            "max_over_min": round(max(present) / min(present), 3) if present else None,
        }
    ratios = [k["last_over_first"] for k in kinds.values()]
    ok = all(r is not None and r <= P99_RATIO_LIMIT for r in ratios)
    return {"kinds": kinds, "limit_last_over_first": P99_RATIO_LIMIT, "ok": ok}


def provider_log_problems(paths: list[Path]) -> dict:
    """Tracebacks, errors and worker timeouts/restarts in the provider's own logs."""
    text = "\n".join(path.read_text(errors="replace") for path in paths if path.exists())
    pattern = re.compile(r"Traceback|WORKER TIMEOUT|Booting worker|\[ERROR\]|"
                         r"\"level\": ?\"(error|critical)\"|\blevel=(error|critical)\b", re.I)
    lines = [line for line in text.splitlines() if pattern.search(line)]
    boots = sum("Booting worker" in line for line in lines)
    problems = [line for line in lines if "Booting worker" not in line]
    warnings = [line for line in text.splitlines()
                if re.search(r"\[WARNING\]|\"level\": ?\"warning\"", line, re.I)]
    return {"worker_boots": boots, "problem_lines": len(problems),
            "first": [_quoted(line) for line in problems[:10]],
            "warning_lines": len(warnings),
            "first_warnings": [_quoted(line) for line in warnings[:5]]}


def _quoted(line: str) -> str:
    """A log line as the results keep it: without its traceback (whose file paths name the
    machine and say nothing the message does not), cut to LOG_LINE_KEPT characters."""
    return line.split(', "exception"', 1)[0][:LOG_LINE_KEPT]


# --- the run ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10, help="how long the traffic runs")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite",
                        help="postgresql = a fresh database on 127.0.0.1:5432 + Redis db 14 "
                             "for state, both removed afterwards")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per worker (1 = gunicorn sync worker)")
    parser.add_argument("--users", type=int, default=4, help="concurrent virtual users")
    parser.add_argument("--sample-seconds", type=float, default=60,
                        help="length of a window: RSS, per-kind p50/p99, a progress line")
    parser.add_argument("--think", type=float, default=0.05,
                        help="mean pause of a user between two requests, seconds (keeps the "
                             "server busy but not saturated on a small machine)")
    parser.add_argument("--refreshes", type=int, default=5, help="refreshes per login")
    parser.add_argument("--userinfo", type=int, default=2, help="userinfo calls per refresh")
    parser.add_argument("--faults", action="store_true",
                        help="our own cluster (PostgreSQL primary + standby, Redis + sentinels, "
                             "two nodes behind HAProxy) and three faults during the run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--output", type=Path, default=None,
                        help="JSON results (default bench/results/soak-<database>.json)")
    args = parser.parse_args(argv)
    if args.faults:
        args.database = "postgresql"
    output = args.output or RESULTS / f"soak-{'faults' if args.faults else args.database}.json"
    # Stopped with kill (SIGTERM): still stop the provider and drop its database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    directory = Path(tempfile.mkdtemp(prefix="idp-soak-"))
    busy_before = machine_busy()
    log(f"machine: {os.cpu_count()} cores, {busy_before:.0%} busy before the run; working in "
        f"{directory}")
    log(f"provider: gunicorn {args.workers} worker(s) × {args.threads} thread(s), database "
        f"{args.database}; {args.users} virtual users, think time {args.think:g} s, "
        f"{args.refreshes} refreshes × {args.userinfo} userinfo per login, "
        f"{args.minutes:g} min in windows of {args.sample_seconds:g} s")
    if args.faults:
        from faults import FaultCluster

        provider = FaultCluster(directory, workers=args.workers, threads=args.threads)
        logs = [node.directory / "idp.log" for node in provider.nodes]
    else:
        provider = BenchProvider(directory, workers=args.workers, threads=args.threads,
                                 database=args.database)
        logs = [directory / "idp.log"]
    recorder = Recorder()
    faults: list = []
    lost: dict = {}
    stop = threading.Event()
    windows: list[dict] = []
    users: list[threading.Thread] = []
    try:
        client_id, secret = provider.add_portal("soak-portal",
                                                post_logout_redirect_uris=[POST_LOGOUT])
        for index in range(args.users):
            provider.add_account(person(index))
        provider.start()
        first_workers = set(provider.worker_pids())
        before = worker_rss(provider)
        log(f"provider up at {provider.issuer} (workers "
            f"{sorted(first_workers)}, RSS MiB "
            f"{' '.join(f'{kib / MIB:.1f}' for kib in before.values())})")

        total = args.minutes * 60
        count = max(1, math.ceil(total / args.sample_seconds - 1e-9))
        meter = Meter(provider)
        start = time.monotonic()
        recorder.started = start
        users = [threading.Thread(target=virtual_user, name=f"user-{i}", daemon=True, args=(
            i, provider, client_id, secret, args, recorder, stop)) for i in range(args.users)]
        for user in users:
            user.start()
        if args.faults:
            from faults import inject_faults

            threading.Thread(target=inject_faults, args=(provider, start, total, faults, stop),
                             name="faults", daemon=True).start()
        began = start
        for index in range(count):
            boundary = start + min((index + 1) * args.sample_seconds, total)
            time.sleep(max(0.0, boundary - time.monotonic()))
            if index == count - 1:
                # The requests in flight finish and count in the last window.
                stop.set()
                for user in users:
                    user.join(timeout=60)
            windows.append(close_window(index, start, began, recorder, meter, provider))
            began = time.monotonic()
        restarted = sorted(set(provider.worker_pids()) ^ first_workers)
        if args.faults:
            lost = provider.rows_lost(recorder.acknowledged, recorder.logins)
    finally:
        stop.set()
        for user in users:
            user.join(timeout=60)
        provider.stop()
        problems = provider_log_problems(logs)
        if args.keep:
            log(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)

    # --- summary ---
    totals = {kind: sum(w["kinds"][kind]["count"] for w in windows) for kind in KINDS}
    errors = {kind: sum(w["errors"][kind] for w in windows) for kind in KINDS}
    error_count = sum(errors.values())
    memory = memory_verdict(windows, before)
    p99 = p99_verdict(windows)
    verdicts = {
        "zero_errors": error_count == 0,
        "memory_growth_ok": memory["ok"],
        "p99_stable": p99["ok"],
        "no_worker_restarts": not restarted and problems["worker_boots"] <= args.workers,
    }
    fault_windows = None
    if args.faults:
        from faults import fault_report

        fault_windows = fault_report(faults, recorder.error_times, start, FAULT_GRACE)
        # Errors are expected inside the windows, and a node is restarted on purpose.
        del verdicts["zero_errors"], verdicts["no_worker_restarts"]
        verdicts["errors_confined_to_fault_windows"] = (
            fault_windows["errors_outside_windows"] == 0 and len(faults) == 3)
        verdicts["rows_lost_zero"] = (lost.get("refresh_tokens_lost") == 0
                                      and lost.get("logins_lost") == 0
                                      and lost.get("audit_verify") == "intact")
    print()
    print(f"Soak — {args.minutes:g} min, {args.database}, gunicorn {args.workers} worker(s) × "
          f"{args.threads} thread(s), {args.users} virtual users, windows of "
          f"{args.sample_seconds:g} s")
    print("  requests: " + ", ".join(f"{kind} {totals[kind]}" for kind in KINDS)
          + f" ({sum(w['http_requests'] for w in windows)} HTTP requests)")
    print("  errors:   " + ", ".join(f"{kind} {errors[kind]}" for kind in KINDS))
    for item in recorder.first_errors:
        print(f"    at {item['at_s']} s, {item['kind']}: {item['message'][:200]}")
    print("  p99 ms by window (last/first, max/min):")
    for kind, row in p99["kinds"].items():
        series = " ".join(fmt_ms(v) for v in row["p99_ms_by_window"])
        print(f"    {kind:<9} {series}  ({row['last_over_first']}, {row['max_over_min']})")
    # The machine may be shared: a p99 spike in a window with much other work is not ours.
    print("    other work on the machine by window (cores): "
          + " ".join(f"{w['cpu_cores']['other']:.2f}" for w in windows))
    print(f"  worker RSS ({memory['baseline']} → end): {memory['start_mib']:.1f} → "
          f"{memory['end_mib']:.1f} MiB in total; before any traffic "
          f"{memory['before_traffic_mib']:.1f} MiB; slope "
          f"{memory['slope_mib_per_min'] if memory['slope_mib_per_min'] is not None else '-'}"
          " MiB/min after the warm-up")
    for pid, row in memory["per_worker"].items():
        print(f"    worker {pid}: {row['start_mib']:.1f} → {row['end_mib']:.1f} MiB")
    print(f"  provider log: {problems['problem_lines']} error/traceback lines, "
          f"{problems['warning_lines']} warnings, {problems['worker_boots']} worker boots; "
          f"workers changed: {restarted or 'none'}")
    for line in problems["first"] + problems["first_warnings"]:
        print(f"    {line[:200]}")
    if fault_windows is not None:
        from faults import print_fault_report

        print_fault_report(fault_windows, lost)
    print()
    for name in ("zero_errors", "errors_confined_to_fault_windows", "rows_lost_zero"):
        if name in verdicts:
            print(f"{name.replace('_', ' ')}: {'yes' if verdicts[name] else 'NO'}"
                  + (f" ({error_count})" if name == "zero_errors" else ""))
    print(f"memory growth: {memory['growth_mib']:+.1f} MiB ({memory['growth_ratio']:+.1%}) "
          f"after the warm-up — {'ok' if memory['ok'] else 'NOT ok'} "
          f"(limit < {MEMORY_GROWTH_LIMIT:.0%})")
    print("p99 stable: " + ", ".join(
        f"{kind} last/first {row['last_over_first']}" for kind, row in p99["kinds"].items())
        + f" — {'yes' if p99['ok'] else 'NO'} (limit ≤ {P99_RATIO_LIMIT:g})")
    if "no_worker_restarts" in verdicts:
        print(f"worker restarts: {'none' if verdicts['no_worker_restarts'] else 'YES'}")

    payload = {
        "meta": {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                 "cpus": os.cpu_count(), "python": platform.python_version(),
                 "database": args.database if args.database == "sqlite" else "postgresql+redis",
                 "faults": args.faults,
                 "workers": args.workers, "threads": args.threads, "users": args.users,
                 "minutes": args.minutes, "sample_seconds": args.sample_seconds,
                 "think_seconds": args.think, "refreshes_per_login": args.refreshes,
                 "userinfo_per_refresh": args.userinfo, "argon2": ARGON2,
                 "busy_before": round(busy_before, 3)},
        "totals": totals, "errors": {"count": error_count, "by_kind": errors,
                                     "first": recorder.first_errors},
        "windows": [{**w, "rss_kib": {str(pid): kib for pid, kib in w["rss_kib"].items()}}
                    for w in windows],
        "memory": memory, "p99": p99, "provider_log": problems,
        "workers_changed": restarted, "verdicts": verdicts,
        "faults": fault_windows, "rows_lost": lost or None,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"wrote {output}")
    if args.faults:
        return 0 if verdicts["errors_confined_to_fault_windows"] and verdicts["rows_lost_zero"] \
            else 1
    return 1 if error_count else 0


if __name__ == "__main__":
    sys.exit(main())
