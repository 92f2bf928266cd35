#!/usr/bin/env python
"""Bounded soak test: mixed traffic against the real provider for --minutes (issue
"Production shape").

Starts the provider like bench/run.py does (`idp serve` under gunicorn on a free loopback
port, a fresh SQLite or PostgreSQL + Redis database, the production argon2id parameters),
registers one portal (with a post-logout redirect URI) and one account per virtual user,
each with its own CCCD and phone, so that concurrent logins never read each other's SMS OTP.
Then --users virtual users (threads; bench/soak_users.py) loop, with a short random think
time between requests:

  login      the whole browser flow (authorize → password → SMS OTP → consent the first time
             → code → token exchange), timed as one
  refresh    the refresh_token grant with rotation (each uses the token the last returned)
  userinfo   GET /userinfo with the current access token (--userinfo per refresh)
  logout     RP-initiated logout: GET /logout with the login's ID token (the one that
             carries the session's sid, as a portal keeps it) as id_token_hint and the
             registered post_logout_redirect_uri, from the same browser; it must redirect
             there and end the browser's SSO session

(--refreshes refresh + userinfo rounds per cycle), then a fresh browser logs in again.

Every --sample-seconds it prints a progress line (requests and p99 per kind, errors, the RSS
of each gunicorn worker, CPU of server, database and load generator; bench/soak_windows.py).
At the end it prints the verdicts — zero errors; memory growth of the workers after the first
window (the warm-up) under MEMORY_GROWTH_LIMIT; p99 of the last window within P99_RATIO_LIMIT
of the first — and writes everything as JSON to --output (bench/results/soak-<database>.json).
It exits 1 when any request failed.

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
import shutil
import signal
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/

from bench import RESULTS, log  # noqa: E402
from bench.machine import machine_busy  # noqa: E402
from bench.servers import ARGON2, BenchProvider  # noqa: E402
from bench.soak_users import KINDS, POST_LOGOUT, Recorder, person, virtual_user  # noqa: E402
from bench.soak_windows import (  # noqa: E402
    MEMORY_GROWTH_LIMIT,
    MIB,
    P99_RATIO_LIMIT,
    Meter,
    close_window,
    fmt_ms,
    memory_verdict,
    p99_verdict,
    provider_log_problems,
    worker_rss,
)

FAULT_GRACE = 10.0
"""Seconds after a component is back in which errors still count as its fault's: what
the nodes take to reach it (connection pools, the sentinels' answer, health checks)."""


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
        from bench.faults import FaultCluster

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
        portal = provider.add_portal("soak-portal", post_logout_redirect_uris=[POST_LOGOUT])
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
            i, provider, portal, args, recorder, stop)) for i in range(args.users)]
        for user in users:
            user.start()
        if args.faults:
            from bench.faults import inject_faults

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
        from bench.faults import fault_report

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
        from bench.faults import print_fault_report

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
