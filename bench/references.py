"""--reference: the same loads, with the same tools, connections and seconds, against node
oidc-provider (in memory; on PostgreSQL + Redis also with its Redis adapter on the same
Redis) and a bare Flask "hello" under the provider's gunicorn settings (measured one after
the other on the same cores, never at the same time as ours); and the floors of the stack:
what the cheapest conceivable version of a flow would cost under the same server, to show
how much of a target is left for the work itself once the server and the durable writes are
paid for."""

from __future__ import annotations

import base64
import secrets
import time

from bench import log
from bench.drivers import LoadResult, refresh_once
from bench.loads.base import Bench
from bench.loads.refresh import rotating_chains
from bench.machine import TICK
from bench.servers import (
    CCCD,
    REDIS_URL,
    SCOPE,
    BenchProvider,
    ReferenceServer,
    flask_hello,
    node_reference,
)
from bench.targets import HELLO, LABELS, NODE_MEMORY, NODE_REDIS


def measure_references(bench: Bench, loads: set[str]) -> None:
    """The references of the loads in `loads`. A reference that cannot start or fails under
    load is left out (bench.not_measured says why); the run goes on without it.

    On SQLite: node with its in-memory adapter (discovery, JWKS, refresh). On PostgreSQL +
    Redis: node with its Redis adapter on the same Redis (discovery, JWKS, refresh), and the
    in-memory node's refresh beside it for the embedded comparison."""
    args = bench.args
    if loads & {"discovery", "jwks", "login"}:
        guarded(bench, HELLO, lambda: measure_hello(bench, loads))
    if "refresh" in loads:
        log("floor of a refresh on this database (in this process): the durable "
            "rotation and two ES256 signatures ...")
        bench.floors.update(rotation_floor(bench.provider, bench.client_id))
        log(f"  rotation {bench.floors['rotation_ms']:.3f} ms CPU (+ database "
            f"{bench.floors['rotation_db_ms']:.3f} ms), two ES256 signatures "
            f"{bench.floors['signatures_ms']:.3f} ms")
    gets = [name for name in ("discovery", "jwks") if name in loads]
    refresh = "refresh" in loads
    if args.database == "postgresql":
        if gets or refresh:
            guarded(bench, NODE_REDIS, lambda: measure_node(bench, NODE_REDIS, gets, refresh))
        if refresh:
            guarded(bench, NODE_MEMORY, lambda: measure_node(bench, NODE_MEMORY, [], refresh))
    elif gets or refresh:
        guarded(bench, NODE_MEMORY, lambda: measure_node(bench, NODE_MEMORY, gets, refresh))


def guarded(bench: Bench, label: str, measure) -> None:
    """Run one reference's `measure`; when it fails, note why in bench.not_measured (the
    targets then say "not measured") instead of failing the run."""
    try:
        measure()
    except Exception as exc:  # noqa: BLE001 - any failure of a reference is reported, not fatal
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        bench.not_measured[label] = reason
        log(f"  {LABELS[label]} not measured: {reason}")


def measure_hello(bench: Bench, loads: set[str]) -> None:
    args = bench.args
    hello = flask_hello(bench.directory, args.workers, args.threads)
    bench.references.append(hello)
    try:
        log(f"{hello.name} up at {hello.issuer} (gunicorn {args.workers} worker(s) × "
            f"{args.threads} thread(s), the provider's gunicorn settings)")
        for which in bench.tools if loads & {"discovery", "jwks"} else ():
            bench.measured(f"reference {hello.name}: {args.seconds:g} s with {which}",
                           lambda which=which: bench.get_load(HELLO, hello, "/hello", {}, which))
        if "login" in loads:
            bench.floors["hello_sequential_ms"] = sequential_request_cpu(hello, "/hello")
            log(f"  {hello.name}, requests sent one at a time: "
                f"{bench.floors['hello_sequential_ms']:.3f} ms of server CPU each")
    finally:
        hello.stop()


def measure_node(bench: Bench, label: str, gets: list[str], refresh: bool) -> None:
    """node oidc-provider (`label`: NODE_MEMORY, its in-memory adapter, or NODE_REDIS, its
    Redis adapter on our Redis) through the GET loads `gets` and, with `refresh`, the
    rotating refresh; its results are named "<label> <load>"."""
    args = bench.args
    need = (bench.concurrency * len(bench.tools) * (args.retries + 1) + bench.concurrency
            if refresh else 1)
    node = node_reference(bench.directory, need, args.id_token_alg, redis=label == NODE_REDIS)
    bench.references.append(node)
    try:
        store = (f"Redis adapter on {REDIS_URL}, key prefix {node.redis_prefix}; its CPU = "
                 "node + redis-server" if node.redis_prefix else "in-memory adapter")
        log(f"{node.name} up at {node.issuer} (pid {node.process.pid}, {store}; {need} "
            "refresh tokens minted)")
        for name in gets:
            path = {"discovery": "/.well-known/openid-configuration", "jwks": "/jwks"}[name]
            for which in bench.tools:
                bench.measured(f"reference {node.name} {name}: {args.seconds:g} s with "
                               f"{which}", lambda which=which, name=name, path=path:
                               bench.get_load(f"{label} {name}", node, path, {}, which))
        if refresh:
            pool = list(node.info["refresh_tokens"])
            basic = "Basic " + base64.b64encode(
                f"{node.info['client_id']}:{node.info['client_secret']}".encode()).decode()
            for which in bench.tools:
                bench.measured(f"reference {node.name} refresh: {bench.concurrency} rotating "
                               f"chains for {args.seconds:g} s with {which}",
                               lambda which=which: node_refresh(bench, label, node, which,
                                                                basic, pool))
    finally:
        node.stop()


def node_refresh(bench: Bench, label: str, node: ReferenceServer, which: str, basic: str,
                 pool: list[str]) -> LoadResult:
    """One rotating-refresh load of node, on tokens of its own (`pool`); afterwards the last
    token of every open chain must still refresh there too."""
    tokens = [pool.pop() for _ in range(bench.concurrency)]
    result, last = rotating_chains(bench, f"{label} refresh", node, which, basic, tokens)
    dead = 0
    for token in last:
        try:
            refresh_once(node, node.info["client_id"], node.info["client_secret"], token)
        except OSError as exc:
            dead += 1
            result.notes.append(f"a chain's last token: {exc}")
    result.errors += dead
    result.notes.append(f"{len(last) - dead} of the {len(last)} open chains still refresh")
    return result


def sequential_request_cpu(server: ReferenceServer, path: str, count: int = 800) -> float:
    """Server CPU (ms) per request of `count` GETs sent one at a time by one requests.Session,
    as the login's browser sends its requests."""
    import requests

    with requests.Session() as browser:
        for _ in range(50):
            browser.get(server.issuer + path, timeout=10)
        cpu0 = server.cpu_ticks()
        for _ in range(count):
            browser.get(server.issuer + path, timeout=10).raise_for_status()
        return (server.cpu_ticks() - cpu0) / TICK * 1000 / count


def rotation_floor(provider: BenchProvider, client_id: str, count: int = 2000) -> dict:
    """CPU (ms) of the parts of one refresh that no implementation on this database can skip,
    run in this process against the provider's database: the durable rotation (claim the
    presented token, read the account, insert its successor, commit: the provider's own
    statements from idp.oidc.grants, on a connection from a pool like the provider's) and
    two ES256 signatures (access token and ID token, joserfc as the provider)."""
    from joserfc import jwt
    from joserfc.jwk import ECKey
    from sqlalchemy import select

    from idp.db import make_engine
    from idp.oidc.grants import ACTIVE_ACCOUNT, CLAIM_REFRESH_TOKEN, INSERT_REFRESH_TOKEN, digest
    from idp.store import data_keys
    from idp.store.models import Account

    engine = make_engine(provider.settings.database_url)
    data_keys.bind(engine, provider.settings)
    try:
        with engine.begin() as connection:
            account_id = connection.execute(
                select(Account.id).where(Account.cccd_is(CCCD))).scalar()

        def successor(token: str) -> dict:
            now = time.time()
            return {"token_digest": digest(token), "family_id": "bench-floor-" + token[:8],
                    "client_id": client_id, "account_id": account_id, "scope": SCOPE,
                    "sid": None, "auth_time": int(now), "acr": "loa:2", "amr": ["pwd", "otp"],
                    "issued_at": now, "expires_at": now + 3600, "rotated_at": None,
                    "revoked_at": None, "dpop_jkt": None}

        token = secrets.token_urlsafe(32)
        with engine.begin() as connection:
            connection.execute(INSERT_REFRESH_TOKEN, successor(token))
        cpu0, db0 = time.process_time(), provider.db_cpu_ticks()
        for _ in range(count):
            with engine.begin() as connection:
                claimed = connection.execute(
                    CLAIM_REFRESH_TOKEN,
                    {"digest": digest(token), "now": time.time(), "jkt": None}).first()
                if claimed is None:
                    raise RuntimeError("the floor's own refresh token could not be claimed")
                connection.execute(ACTIVE_ACCOUNT, {"account_id": account_id}).first()
                token = secrets.token_urlsafe(32)
                connection.execute(INSERT_REFRESH_TOKEN, successor(token))
        rotation = (time.process_time() - cpu0) * 1000 / count
        rotation_db = (provider.db_cpu_ticks() - db0) / TICK * 1000 / count
    finally:
        engine.dispose()
    key = ECKey.generate_key("P-256")
    now = int(time.time())
    claims = {"iss": provider.issuer, "sub": "s" * 43, "aud": client_id, "iat": now,
              "exp": now + 300, "jti": "j" * 22, "scope": SCOPE, "auth_time": now,
              "acr": "loa:2", "amr": ["pwd", "otp"]}
    cpu0 = time.process_time()
    for _ in range(count):
        for typ in ("at+jwt", "JWT"):
            jwt.encode({"alg": "ES256", "kid": "k", "typ": typ}, claims, key,
                       algorithms=["ES256"])
    signatures = (time.process_time() - cpu0) * 1000 / count
    return {"rotation_ms": rotation, "rotation_db_ms": rotation_db,
            "signatures_ms": signatures}
