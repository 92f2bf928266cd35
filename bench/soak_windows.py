"""What the soak (bench/soak.py) measures window by window — requests and latency per
kind, the RSS of each gunicorn worker, CPU of server, database and load generator — and its
verdicts at the end: memory growth after the warm-up, p99 stable, the provider's log."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from bench import log
from bench.drivers import percentile
from bench.machine import TICK, busy_ticks
from bench.servers import BenchProvider
from bench.soak_users import KINDS, Recorder

MEMORY_GROWTH_LIMIT = 0.10  # growth of the workers' total RSS after the warm-up window
P99_RATIO_LIMIT = 1.5  # p99 of the last window / p99 of the first, for every kind
LOG_LINE_KEPT = 300  # characters kept of each provider log line quoted in the results
MIB = 1024  # KiB per MiB (VmRSS is in KiB)


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
            "p50_ms": round(percentile(ordered, 0.50) * 1000, 2),
            "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
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
