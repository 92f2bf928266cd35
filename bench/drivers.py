"""The load generators: wrk (a Lua script in bench/loads for the loads that need one), and
a python client of its own: processes of threads, each a keep-alive http.client connection
in a tight loop. Both report a LoadResult: requests/s, latency, errors, and the CPU the
server, its database, the load generator and everything else used meanwhile."""

from __future__ import annotations

import base64
import http.client
import json
import multiprocessing
import os
import re
import resource
import subprocess
import threading
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import requests

from bench.machine import TICK, busy_ticks

_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass
class LoadResult:
    name: str
    tool: str
    concurrency: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu: float | None = None
    """Server (gunicorn master + workers) CPU over the window, in cores (1.0 = one core busy)."""
    client_cpu: float | None = None
    """Load-generator CPU over the window, in cores."""
    db_cpu: float | None = None
    """PostgreSQL backends + Redis over the window, in cores (0 on SQLite: it is in-process)."""
    other_cpu: float | None = None
    """CPU used by everything else on the machine over the window, in cores (other people's
    work skews the figures; a few hundredths are kernel and bookkeeping)."""
    notes: list[str] = field(default_factory=list)


def percentile(ordered, fraction: float) -> float:
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[index]


def refresh_once(server, client_id: str, secret: str, token: str) -> dict:
    """One refresh_token grant at `server` (ours or a reference); raises on an error."""
    response = requests.post(server.issuer + "/token", auth=(client_id, secret), timeout=30,
                             data={"grant_type": "refresh_token", "refresh_token": token})
    response.raise_for_status()
    return response.json()


# --- the python client ----------------------------------------------------------------------


def _connection_loop(job: dict, chain_token: str | None, start_at: float, warm_until: float,
                     stop_at: float, out: dict) -> None:
    """One keep-alive connection in a tight loop (reconnects when the server closes).

    job["kind"]: "get" (job["path"]), "refresh" (`chain_token` is the chain's first refresh
    token), "introspect" (POST /introspect with job["body"]; the answer must be active) or
    "code" (`chain_token` is this connection's own list of (code, code_verifier) pairs, each
    exchanged once, in order; job["body"] is the rest of the form)."""
    conn = http.client.HTTPConnection("127.0.0.1", job["port"], timeout=30)
    latencies = array("d")
    errors = 0
    first_error = None
    headers = dict(job.get("headers", {}))
    refresh = chain_token
    codes = iter(chain_token) if job["kind"] == "code" else None
    proofs = DPoPProofs(job["htu"]) if job["kind"] == "refresh-dpop" else None
    used = 0
    while time.monotonic() < start_at:
        time.sleep(0.0005)
    while True:
        t0 = time.monotonic()
        if t0 >= stop_at:
            break
        problem = None
        try:
            if job["kind"] in ("refresh", "refresh-dpop"):
                body = urlencode({"grant_type": "refresh_token", "refresh_token": refresh})
                if proofs is not None:
                    headers["DPoP"] = proofs.next()
                conn.request("POST", "/token", body, headers)
                response = conn.getresponse()
                data = response.read()
                if proofs is not None and proofs.learn(response, data):
                    continue  # the provider's first nonce (RFC 9449 §8): send it, not an error
                if response.status == 200:
                    refresh = json.loads(data)["refresh_token"]
                else:
                    problem = f"HTTP {response.status}: {data[:200]!r}"
            elif job["kind"] == "introspect":
                conn.request("POST", "/introspect", job["body"], headers)
                response = conn.getresponse()
                data = response.read()
                if response.status != 200:
                    problem = f"HTTP {response.status}: {data[:200]!r}"
                elif json.loads(data).get("active") is not True:
                    problem = f"not active: {data[:200]!r}"
            elif job["kind"] == "code":
                pair = next(codes, None)
                if pair is None:
                    errors += 1
                    first_error = first_error or (
                        f"this connection's {used} codes ran out before the end of the load "
                        "(raise --codes-per-second)")
                    break
                used += 1
                body = f"{job['body']}&code={pair[0]}&code_verifier={pair[1]}"
                conn.request("POST", "/token", body, headers)
                response = conn.getresponse()
                data = response.read()
                if response.status != 200:
                    problem = f"HTTP {response.status}: {data[:200]!r}"
                else:
                    answer = json.loads(data)
                    if not answer.get("access_token") or not answer.get("id_token"):
                        problem = f"no access_token / id_token: {data[:200]!r}"
            else:
                conn.request("GET", job["path"], headers=headers)
                response = conn.getresponse()
                data = response.read()
                if response.status != 200:
                    problem = f"HTTP {response.status}: {data[:200]!r}"
        except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            conn.close()
        t1 = time.monotonic()
        if problem is None:
            if t0 >= warm_until:
                latencies.append(t1 - t0)
            continue
        errors += 1  # counted during the warm-up too
        first_error = first_error or problem
        if job["kind"] in ("refresh", "refresh-dpop"):
            break  # the chain's token may already be rotated: going on would be a reuse
    conn.close()
    out.update(latencies=latencies, errors=errors, first_error=first_error,
               refresh=refresh if job["kind"] in ("refresh", "refresh-dpop") else None,
               used=used)


class DPoPProofs:
    """One connection's DPoP key (ES256, as openid-client makes them) and its proofs: a new
    one per request, with the nonce the provider's last answer carried (RFC 9449 §8)."""

    def __init__(self, htu: str) -> None:
        from joserfc.jwk import ECKey

        self.key = ECKey.generate_key("P-256")
        self.header = {"typ": "dpop+jwt", "alg": "ES256",
                       "jwk": self.key.as_dict(private=False)}
        self.htu = htu
        self.nonce: str | None = None

    def next(self) -> str:
        from joserfc import jwt

        claims = {"htm": "POST", "htu": self.htu, "iat": int(time.time()),
                  "jti": base64.urlsafe_b64encode(os.urandom(12)).decode()}
        if self.nonce:
            claims["nonce"] = self.nonce
        return jwt.encode(self.header, claims, self.key, algorithms=["ES256"])

    def learn(self, response, data: bytes) -> bool:
        """Keep the answer's nonce; True when the request must be sent again with it."""
        retry = response.status == 400 and b"use_dpop_nonce" in data and self.nonce is None
        self.nonce = response.getheader("DPoP-Nonce") or self.nonce
        return retry


def _client_process(job: dict, chain_tokens: list, start_at: float, warm_until: float,
                    stop_at: float, queue) -> None:
    """One load-generator process running `connections` threads, one connection each."""
    outs = [{} for _ in chain_tokens]
    threads = [
        threading.Thread(target=_connection_loop,
                         args=(job, token, start_at, warm_until, stop_at, outs[i]))
        for i, token in enumerate(chain_tokens)
    ]
    cpu_at_warm = None

    def cpu_sampler():
        nonlocal cpu_at_warm
        time.sleep(max(0.0, warm_until - time.monotonic()))
        times = os.times()
        cpu_at_warm = times.user + times.system

    sampler = threading.Thread(target=cpu_sampler)
    sampler.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sampler.join()
    times = os.times()
    latencies = array("d")
    for out in outs:
        latencies.extend(out.get("latencies", array("d")))
    queue.put({
        "latencies": latencies,
        "errors": sum(out.get("errors", 1) for out in outs),
        "first_error": next((o["first_error"] for o in outs if o.get("first_error")), None),
        "refresh": [out.get("refresh") for out in outs],
        "used": sum(out.get("used", 0) for out in outs),
        "cpu": times.user + times.system - (cpu_at_warm or 0.0),
    })


def python_load(name: str, provider, job: dict, *, processes: int,
                connections: int, seconds: float, warmup: float,
                chain_tokens: list[str] | None = None) -> tuple[LoadResult, list[str]]:
    """Run `processes` × `connections` keep-alive loops; returns the result (and, for the
    refresh load, the last refresh token of every chain)."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    job = {**job, "port": provider.port}
    tokens = chain_tokens or [None] * (processes * connections)
    start_at = time.monotonic() + 0.5
    warm_until = start_at + warmup
    stop_at = warm_until + seconds
    procs = [
        ctx.Process(target=_client_process, args=(
            job, tokens[i * connections:(i + 1) * connections], start_at, warm_until, stop_at,
            queue))
        for i in range(processes)
    ]
    for proc in procs:
        proc.start()
    time.sleep(max(0.0, warm_until - time.monotonic()))
    cpu0, db0, all0 = provider.cpu_ticks(), provider.db_cpu_ticks(), busy_ticks()
    time.sleep(max(0.0, stop_at - time.monotonic()))
    cpu1, db1, all1 = provider.cpu_ticks(), provider.db_cpu_ticks(), busy_ticks()
    parts = [queue.get(timeout=seconds + 60) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    latencies = sorted(x for part in parts for x in part["latencies"])
    errors = sum(part["errors"] for part in parts)
    result = LoadResult(
        name=name, tool=f"python http.client ({processes} proc × {connections} conn)",
        concurrency=f"{processes * connections}", requests=len(latencies), seconds=seconds,
        rps=len(latencies) / seconds, p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000, errors=errors,
        server_cpu=(cpu1 - cpu0) / TICK / seconds,
        client_cpu=sum(part["cpu"] for part in parts) / seconds,
    )
    result.db_cpu = (db1 - db0) / TICK / seconds
    result.other_cpu = ((all1 - all0) / TICK / seconds - result.server_cpu - result.client_cpu
                        - result.db_cpu)
    first_error = next((p["first_error"] for p in parts if p["first_error"]), None)
    if first_error:
        result.notes.append(f"first error: {first_error}")
    if job["kind"] == "code":
        result.notes.append(f"{sum(part.get('used', 0) for part in parts)} codes sent, each "
                            f"once, of {sum(len(t) for t in tokens)} minted")
    return result, [token for part in parts for token in part["refresh"]]


# --- wrk ------------------------------------------------------------------------------------


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(match.group(1)) * _WRK_UNITS[match.group(2)]


def wrk_load(name: str, provider, path: str, headers: dict, *, threads: int,
             connections: int, seconds: float, warmup: float, script: Path | None = None,
             script_args: list[str] | None = None,
             warm_with_script: bool = False) -> tuple[LoadResult, str]:
    """Run wrk; returns the result and wrk's output. No warm-up for a script load (its
    tokens or codes are used once) unless `warm_with_script` (the script's requests can be
    repeated, e.g. introspection of one token)."""
    url = provider.issuer + path
    header_args = [arg for key, value in headers.items() for arg in ("-H", f"{key}: {value}")]
    common = ["wrk", f"-t{threads}", f"-c{connections}", *header_args]
    tail = [url] if script is None else ["-s", str(script), url, "--", *(script_args or [])]
    if warmup > 0 and (script is None or warm_with_script):
        subprocess.run([*common, f"-d{max(1, round(warmup))}s", *tail],  # noqa: S603
                       capture_output=True, check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0, db0, all0 = provider.cpu_ticks(), provider.db_cpu_ticks(), busy_ticks()
    t0 = time.monotonic()
    out = subprocess.run([*common, f"-d{max(1, round(seconds))}s", "--latency",  # noqa: S603
                          *tail], capture_output=True, text=True, check=True).stdout
    wall = time.monotonic() - t0
    cpu1, db1, all1 = provider.cpu_ticks(), provider.db_cpu_ticks(), busy_ticks()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", out).group(1))
    duration = _wrk_ms(re.search(r"requests in ([\d.]+\w+)", out).group(1)) / 1000
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    notes = []
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
        notes.append("wrk: " + socket_errors.group(0))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
        notes.append("wrk: " + non2xx.group(0))
    result = LoadResult(
        name=name, tool=f"wrk -t{threads} -c{connections}" + (" + Lua" if script else ""),
        concurrency=str(connections), requests=total, seconds=duration, rps=total / duration,
        p50_ms=_wrk_ms(latency["50"]), p99_ms=_wrk_ms(latency["99"]), errors=errors,
        server_cpu=(cpu1 - cpu0) / TICK / wall,
        client_cpu=(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / wall,
        notes=notes,
    )
    result.db_cpu = (db1 - db0) / TICK / wall
    result.other_cpu = ((all1 - all0) / TICK / wall - result.server_cpu - result.client_cpu
                        - result.db_cpu)
    return result, out
