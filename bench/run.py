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

This script holds the options and the order of the run; the provider, the load generators,
the loads (bench/loads, one module each), the references, the report and the profiles are
the bench package's modules (bench/__init__.py).

    .venv/bin/python bench/run.py                     # defaults: 10 s, SQLite, 1 sync worker
    .venv/bin/python bench/run.py --wait-idle 900     # first wait for an idle machine
    .venv/bin/python bench/run.py --database postgresql --seconds 5
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/

from bench import RESULTS, log  # noqa: E402
from bench.loads import LOADS, Bench  # noqa: E402
from bench.loads.code import (  # noqa: E402
    CODE_MINT_MARGIN,
    CODE_TTL_MAX,
    CODES_MAX,
    CODES_PER_SECOND,
)
from bench.machine import machine_busy, wait_until_idle  # noqa: E402
from bench.servers import ARGON2, BenchProvider  # noqa: E402

DEFAULT_LOADS = list(LOADS)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
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
                             "node oidc-provider (bench/reference, npm ci when needed; in "
                             "memory, and with --database postgresql also with its Redis "
                             "adapter on the same Redis) and a bare Flask hello under the "
                             "same gunicorn settings; the targets are printed against them")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json",
                        help="where to write the results as JSON")
    parser.add_argument("--no-save", action="store_true", help="do not write the JSON")
    args = parser.parse_args(argv)
    args.loads = set(args.only.split(","))
    unknown = args.loads - {*DEFAULT_LOADS, "session-size"}
    if unknown:
        parser.error(f"unknown load(s) in --only: {', '.join(sorted(unknown))}")
    if "code" in args.loads and args.warmup + args.seconds > CODE_TTL_MAX - CODE_MINT_MARGIN:
        parser.error(f"the code load uses codes minted just before it, which live at most "
                     f"{CODE_TTL_MAX} s (settings.tokens.code_ttl): --warmup + --seconds must "
                     f"be at most {CODE_TTL_MAX - CODE_MINT_MARGIN:g} s")
    args.have_wrk = shutil.which("wrk") is not None
    tool = args.get_tool
    if tool == "auto":
        tool = "both" if args.have_wrk else "python"
    if tool in ("wrk", "both") and not args.have_wrk:
        parser.error("wrk is not installed (apt-get install wrk)")
    args.tools = ["wrk", "python"] if tool == "both" else [tool]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Stopped with kill (SIGTERM): still stop the provider and drop its database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    loads = args.loads
    if "session-size" in loads:
        from bench.session_size import measure_and_report

        measure_and_report(args)
        loads.discard("session-size")
        if not loads:
            return 0

    processes, per_process = args.clients, args.connections
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
        f"{processes * per_process} concurrent; GET loads by {' and '.join(args.tools)}. "
        "The machine's cores are shared by the server and the load generator.")
    provider = BenchProvider(directory, workers=args.workers, threads=args.threads,
                             database=args.database)
    bench = Bench(args, provider, directory, args.tools)
    try:
        bench.prepare()
        for name, load in LOADS.items():
            if name in loads and not load.after_references:
                load.run(bench)
        if args.reference:
            from bench.references import measure_references

            measure_references(bench, loads)
        for name, load in LOADS.items():
            if name in loads and load.after_references:
                load.run(bench)
        if args.profile:
            from bench.profile import profile_loads

            profile_loads(bench)
    finally:
        for server in bench.references:
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
                              text=True).stdout.split("\n")[0] if args.have_wrk else None,
    }
    from bench.report import print_markdown, print_results, write_json

    comparisons, measured_lines, targets, total_errors = print_results(bench, meta)
    if not args.no_save:
        write_json(args.output, bench, meta, comparisons, measured_lines, targets)
    print_markdown(bench, meta)
    return 1 if total_errors else 0


if __name__ == "__main__":
    sys.exit(main())
