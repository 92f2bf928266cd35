"""CPU time of processes and of the whole machine (from /proc), and waiting for the
machine to go idle: the figures of a load are only as good as the machine is quiet."""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench import log

TICK = os.sysconf("SC_CLK_TCK")
"""Clock ticks per second, the unit of /proc's CPU times."""


def proc_cpu_ticks(pid: int) -> int:
    """CPU time (clock ticks) a process has used so far, 0 once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = raw.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        if int(raw.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def pids_named(name: str) -> list[int]:
    """The processes whose command name (/proc/PID/comm) is `name`, e.g. redis-server."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def busy_ticks() -> int:
    """Clock ticks the cores have spent running processes since boot, from /proc/stat: user,
    nice, system and steal; not interrupt and softirq time (mostly our own loopback traffic,
    which no process is charged for)."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return values[0] + values[1] + values[2] + values[7]


def machine_busy(seconds: float = 1.0) -> float:
    """Fraction of all cores busy over `seconds` (from /proc/stat), before we add any load."""
    def sample() -> tuple[int, int]:
        values = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values) - idle, sum(values)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_until_idle(limit: float, max_seconds: float) -> float:
    """Wait (up to `max_seconds`) for 3 consecutive seconds under `limit` busy; returns the
    last reading."""
    deadline = time.monotonic() + max_seconds
    quiet = 0
    said = 0.0
    busy = machine_busy()
    while time.monotonic() < deadline:
        quiet = quiet + 1 if busy < limit else 0
        if quiet >= 3:
            break
        if quiet == 0:
            if time.monotonic() - said > 30:
                log(f"waiting for the machine to go idle ({busy:.0%} busy) ...")
                said = time.monotonic()
            time.sleep(4)
        busy = machine_busy()
    return busy
