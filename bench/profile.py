"""--profile: py-spy samples of the provider's worker while a load runs (not part of the
reported figures), written as collapsed stacks to bench/results/profile-<load>.txt and
summarised: where the samples went by layer and by task (samples blocked on a socket left
out), and the provider's own functions."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import REPO, RESULTS, log
from bench.loads.base import Bench, form_headers
from bench.servers import BenchProvider


def profile_loads(bench: Bench) -> None:
    """Profiles of the refresh, userinfo and login loads, into bench.profiles."""
    args, provider = bench.args, bench.provider
    log("profiling (py-spy on the worker; these runs are not in the results) ...")
    bench.profiles["refresh"] = py_spy_profile(provider, "refresh", lambda: bench.python(
        "refresh", {"kind": "refresh", "headers": form_headers(bench.basic)},
        warmup=0, chain_tokens=bench.chain_tokens), args.seconds)
    token = bench.fresh_access_token()
    bench.profiles["userinfo"] = py_spy_profile(provider, "userinfo", lambda: bench.python(
        "userinfo", {"kind": "get", "path": "/userinfo",
                     "headers": {"Authorization": "Bearer " + token}}, warmup=0), args.seconds)

    def logins_for_a_while() -> None:
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            bench.login()

    bench.profiles["login"] = py_spy_profile(provider, "login", logins_for_a_while,
                                             args.seconds)


def py_spy_profile(provider: BenchProvider, name: str, run_load, seconds: float) -> dict | None:
    """Sample the gunicorn worker with py-spy while `run_load()` runs; write collapsed stacks
    and print the functions where most time is spent (inclusive)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        log("py-spy not installed (.venv/bin/pip install py-spy): profile skipped")
        return None
    workers = provider.worker_pids()
    if len(workers) != 1:
        log("profiling needs exactly one worker: skipped")
        return None
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"profile-{name}.txt"
    target.unlink(missing_ok=True)
    spy_proc = subprocess.Popen(  # noqa: S603
        [spy, "record", "-p", str(workers[0]), "-d", str(int(seconds)), "-r", "250",
         "--format", "raw", "-o", str(target), "--nonblocking"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    time.sleep(0.5)
    run_load()
    output, _ = spy_proc.communicate(timeout=seconds + 60)
    if not target.exists():
        log(f"py-spy failed: {output.strip()[-500:]}")
        return None
    return {"file": str(target.relative_to(REPO)), **summarize_profile(target)}


PROFILE_CATEGORIES = [
    # (what, substrings of a frame's file): a sample goes to the first category, from the
    # innermost frame outwards, that one of its frames belongs to.
    ("JWT sign/verify (joserfc + cryptography)", ("joserfc/", "cryptography/")),
    ("database + state store (SQLAlchemy, driver)",
     ("sqlalchemy/", "sqlite3/", "psycopg/", "redis/")),
    ("Authlib (OAuth 2 request handling)", ("authlib/",)),
    ("provider code (idp/, keys/)", ("/idp/", "idp/", "keys/")),
    ("Flask / Werkzeug / Jinja", ("flask/", "werkzeug/", "jinja2/", "itsdangerous/",
                                  "flask_wtf/")),
    ("gunicorn (accept, parse, write, close)", ("gunicorn/",)),
]


PROFILE_TASKS = [
    # (what, substrings of a frame): a sample goes to the first task one of its frames
    # belongs to, wherever on the stack: what the request was doing, whatever the layer.
    ("argon2id verify", ("argon2",)),
    ("JWT signing (ID token, access token)", ("sign_compact",)),
    ("audit rows (hash-chained, own transaction)", ("record_event (idp/audit.py",)),
    ("SMS gateway calls (the code, the new-browser notice)",
     ("(connectors/sms.py", "notify_new_browser")),
    ("state store (counters, interaction, SSO session, OTP record, code)",
     ("(idp/store/state.py", "(idp/store/redis_state.py")),
    ("other SQL (account, phones, consent, refresh token)", ("(sqlalchemy/",)),
    ("page templates (Jinja)", ("render_template (flask/",)),
]
SOCKET_WAITS = {"close_graceful", "SyncWorker.wait", "write", "socket.accept", "recv",
                "sendall", "select", "poll", "wait", "readinto", "recv_into"}
"""Innermost functions that block on a socket (the client's FIN after the answer, the next
request): samples there use no CPU and are left out of the shares."""


def summarize_profile(path: Path, top: int = 12) -> dict:
    """Where the worker's samples went, leaving out those blocked on a socket: by layer, by
    task, and the provider's own functions."""
    categories: dict[str, int] = {}
    tasks: dict[str, int] = {}
    own: dict[str, int] = {}
    total = waiting = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.strip().isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if frames[-1].split(" (", 1)[0] in SOCKET_WAITS:
            waiting += n
            continue
        total += n
        task = next((name for name, parts in PROFILE_TASKS
                     if any(part in stack for part in parts)),
                    "the rest (Flask, gunicorn, the provider's own checks and pages)")
        tasks[task] = tasks.get(task, 0) + n
        category = "other (stdlib, interpreter)"
        for frame in reversed(frames):
            where = frame.rsplit("(", 1)[-1]
            match = next((name for name, parts in PROFILE_CATEGORIES
                          if any(part in where for part in parts)), None)
            if match:
                category = match
                break
        categories[category] = categories.get(category, 0) + n
        for frame in set(frames):
            where = frame.rsplit("(", 1)[-1]
            if where.startswith(("idp/cli/", "idp/serve.py")):
                continue  # the entry point, at the root of every stack
            if where.startswith(("idp/", "keys/")) or "/idp/" in where or "/keys/" in where:
                name = frame.rsplit(":", 1)[0] + ")"
                own[name] = own.get(name, 0) + n
    if not total:
        return {}
    log(f"profile {path.name}: {total} samples of the busy worker ({waiting} more blocked on "
        "a socket, left out), by innermost known layer:")
    for name, n in sorted(categories.items(), key=lambda item: -item[1]):
        print(f"    {n / total:6.1%}  {name}")
    log("  by task (a sample counts for the first task on its stack):")
    for name, n in sorted(tasks.items(), key=lambda item: -item[1]):
        print(f"    {n / total:6.1%}  {name}")
    log("  provider functions, inclusive (a sample counts once per function on its stack):")
    merged: dict[str, int] = {}
    for name, n in own.items():
        merged[name] = max(merged.get(name, 0), n)
    for name, n in sorted(merged.items(), key=lambda item: -item[1])[:top]:
        print(f"    {n / total:6.1%}  {name}")
    return {"samples": total, "samples_blocked_on_a_socket": waiting,
            "categories": {k: round(v / total, 4) for k, v in categories.items()},
            "tasks": {k: round(v / total, 4) for k, v in tasks.items()},
            "provider_functions": {k: round(v / total, 4) for k, v in
                                   sorted(merged.items(), key=lambda item: -item[1])[:top]}}
