#!/usr/bin/env python
"""Audit rows per second the hash-chained audit trail can take, by number of chains.

Each appender is its own process (like a gunicorn worker on any node) writing rows the
way the provider does (idp.audit.append_event, one transaction per row). Appends to one
chain are serialised, so with one chain the whole cluster writes one row per commit;
with `[audit] chains` > 1 the rate grows until the database's own write rate is the
limit. A plain INSERT (no chain) is the ceiling.

    .venv/bin/python bench/audit.py                       # PostgreSQL on 127.0.0.1:5432
    .venv/bin/python bench/audit.py --database sqlite
    .venv/bin/python bench/audit.py --chains 1,4,16 --appenders 1,4,8 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/

RESULTS = Path(__file__).resolve().parent / "results"
AUDIT_ROWS_PER_LOGIN = 4  # what one password + SMS OTP login appends (bench/run.py login)


def log(message: str) -> None:
    print(f"[audit {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _values() -> dict:
    return {"at": datetime.now(UTC), "event": "login", "result": "success", "account_id": 1,
            "client_id": "bench-portal", "actor": None, "actor_role": None,
            "ip": "127.0.0.1", "user_agent": "Mozilla/5.0 (bench) " + "x" * 80,
            "detail": {"method": "pwd+sms", "acr": "loa:2"}}


def _appender(url: str, chains: int, seconds: float, start: float, counts) -> None:
    from sqlalchemy import insert

    from idp.audit import append_event
    from idp.db import make_engine
    from idp.store.models import AuditEvent

    engine = make_engine(url, pool_size=1)
    plain = insert(AuditEvent.__table__)
    while time.time() < start:
        time.sleep(0.001)
    done, stop = 0, start + seconds
    while time.time() < stop:
        with engine.begin() as connection:
            if chains:
                append_event(connection, _values(), chains)
            else:
                connection.execute(plain, {**_values(), "prev_hash": "", "row_hash": ""})
        done += 1
    counts.put(done)
    engine.dispose()


def measure(url: str, chains: int, appenders: int, seconds: float) -> float:
    """Rows per second written by `appenders` processes on `chains` chains (0: no chain)."""
    counts = multiprocessing.Queue()
    start = time.time() + 1.0  # every process connected before the clock starts
    processes = [multiprocessing.Process(target=_appender,
                                         args=(url, chains, seconds, start, counts))
                 for _ in range(appenders)]
    for process in processes:
        process.start()
    total = sum(counts.get(timeout=seconds + 60) for _ in processes)
    for process in processes:
        process.join()
    return total / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--chains", default="1,16", help="comma-separated chain counts")
    parser.add_argument("--appenders", default="1,4,8",
                        help="comma-separated numbers of appending processes")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from idp.audit import verify_chain
    from idp.db import make_engine
    from idp.store.models import Base
    from tests.live import new_database

    directory = Path(tempfile.mkdtemp(prefix="idp-audit-bench-"))
    throwaway = ExitStack()
    if args.database == "postgresql":
        url = throwaway.enter_context(new_database("idp_audit_bench"))
    else:
        url = f"sqlite:///{directory / 'audit.sqlite3'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    chain_counts = [int(x) for x in args.chains.split(",")]
    appender_counts = [int(x) for x in args.appenders.split(",")]
    results = []
    try:
        log(f"{args.database}: {args.seconds:g} s per measure, appenders "
            f"{appender_counts}, chains {chain_counts} (0 = plain INSERT, no chain)")
        for chains in [0, *chain_counts]:
            for appenders in appender_counts:
                rate = measure(url, chains, appenders, args.seconds)
                results.append({"chains": chains, "appenders": appenders, "rows_per_s": rate})
                label = "plain INSERT" if chains == 0 else f"{chains} chain(s)"
                log(f"  {label:>13}, {appenders} appender(s): {rate:,.0f} rows/s")
        with engine.begin() as connection:  # the plain rows are not chained
            connection.execute(text("DELETE FROM audit_events WHERE row_hash = ''"))
        with Session(engine) as session:
            report = verify_chain(session)
        log(f"chains verified afterwards: {report.rows:,} rows in {len(report.heads)} "
            f"chain(s), {'intact' if report.broken_at is None else 'BROKEN'}")
    finally:
        engine.dispose()
        throwaway.close()

    print()
    print(f"Audit rows per second, {args.database}, by chains (rows) and appending processes "
          "(columns):")
    print(f"{'':>14}" + "".join(f"{n:>10}" for n in appender_counts))
    for chains in [0, *chain_counts]:
        label = "plain INSERT" if chains == 0 else f"{chains} chain(s)"
        row = [r for r in results if r["chains"] == chains]
        print(f"{label:>14}" + "".join(f"{r['rows_per_s']:>10,.0f}" for r in row))
    best = {c: max(r["rows_per_s"] for r in results if r["chains"] == c)
            for c in [0, *chain_counts]}
    print()
    for chains in chain_counts:
        print(f"comparison: {chains} chain(s) → at most {best[chains]:,.0f} rows/s = "
              f"{best[chains] / AUDIT_ROWS_PER_LOGIN:,.0f} logins/s for the whole cluster "
              f"({AUDIT_ROWS_PER_LOGIN} audit rows per login); plain INSERT ceiling "
              f"{best[0]:,.0f} rows/s ({best[chains] / best[0]:.0%} of it)")
    output = args.output or RESULTS / f"audit-{args.database}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"database": args.database, "seconds": args.seconds,
                                  "results": results}, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {output.relative_to(Path.cwd()) if output.is_relative_to(Path.cwd()) else output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
