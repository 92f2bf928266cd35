"""code: the token endpoint's authorization_code grant with PKCE. Every request exchanges
its own fresh code, minted just before the load into the provider's state store as
/authorize would (codes live at most 60 s)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import secrets
import time
from pathlib import Path
from urllib.parse import urlencode

from bench import log
from bench.drivers import LoadResult
from bench.loads.base import Bench, form_headers
from bench.servers import CCCD, PORTAL, SCOPE, BenchProvider

SCRIPT = Path(__file__).with_name("code.lua")
CODE_TTL_MAX = 60
"""Authorization codes live at most this long (idp/config.py caps tokens.code_ttl at 60 s)."""
CODE_MINT_MARGIN = 15
"""Seconds of the code TTL kept for minting the codes and starting the load generator."""
CODES_PER_SECOND = 1500
"""Codes minted per second of a `code` load (per tool, per attempt): several times what one
or two workers exchange on this machine (a few hundred per second)."""
CODES_MAX = 30_000
"""At most this many codes per tool and attempt (minting them takes ≈ 13 s on SQLite here,
which the code TTL must leave room for: see CODE_MINT_MARGIN)."""
CODE_FORM = urlencode({"grant_type": "authorization_code", "redirect_uri": PORTAL})
"""The token request's form without code and code_verifier."""


def code_grantee(provider: BenchProvider, tokens: dict):
    """The bench account as one of its real logins left it (auth_time, acr, amr and sid read
    back from the ID token of `tokens`), so that the codes minted for it are what /authorize
    would issue in that SSO session. Each code gets its own grant id when minted."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from idp.oidc.grants import Grantee
    from idp.store.models import Account

    payload = tokens["id_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    with Session(provider.engine) as session:
        account = session.execute(
            select(Account.id, Account.subject).where(Account.cccd_is(CCCD))).one()
    return Grantee(account_id=account.id, subject=account.subject,
                   auth_time=claims["auth_time"], acr=claims["acr"], amr=claims["amr"],
                   sid=claims.get("sid"), grant_id="")


def mint_codes(provider: BenchProvider, client_id: str, count: int,
               grantee) -> list[tuple[str, str]]:
    """`count` fresh authorization codes, each for its own new grant (a new grant id, as
    /authorize gives every code), written into the provider's own state store (SQL or
    Redis, `make_state_store` with the provider's settings) under `code:<sha256 hex of the
    code>` with the provider's code TTL (settings.tokens.code_ttl, at most 60 s: use them
    at once). Returns (code, code_verifier) pairs."""
    from dataclasses import replace

    from authlib.common.security import generate_token

    from idp.oidc.grants import code_key, code_record
    from idp.store.state import make_state_store

    store = make_state_store(provider.settings, provider.engine)
    ttl = provider.settings.tokens.code_ttl
    minted = []
    try:
        for _ in range(count):
            code = generate_token(48)  # what Authlib's generate_authorization_code returns
            verifier = secrets.token_urlsafe(48)
            challenge = base64.urlsafe_b64encode(
                hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            # The provider's own record, as save_authorization_code writes it.
            record = code_record(client_id, PORTAL, SCOPE, secrets.token_urlsafe(8), challenge,
                                 replace(grantee, grant_id=secrets.token_hex(16)))
            store.put(code_key(code), record, ttl)
            minted.append((code, verifier))
    finally:
        if getattr(store, "redis", None) is not None:
            store.redis.close()
    return minted


def measure(bench: Bench, which: str, grantee) -> LoadResult:
    """Authorization-code exchanges, each of its own fresh code, minted just before
    (they live settings.tokens.code_ttl seconds)."""
    args, provider, concurrency = bench.args, bench.provider, bench.concurrency
    span = args.seconds + (args.warmup if which == "python" else 0)
    count = max(concurrency, min(CODES_MAX, math.ceil(args.codes_per_second * span)))
    ttl = provider.settings.tokens.code_ttl
    t0 = time.monotonic()
    codes = mint_codes(provider, bench.client_id, count, grantee)
    minting = time.monotonic() - t0
    log(f"  {count:,} codes minted into the state store in {minting:.1f} s "
        f"(they live {ttl} s)")
    if minting + span + 1 > ttl:
        log(f"  WARNING: the last codes expire before the load ends ({ttl} s "
            "code TTL): lower --seconds or --codes-per-second")
    if which == "python":
        return bench.python(
            "code", {"kind": "code", "body": CODE_FORM, "headers": form_headers(bench.basic)},
            chain_tokens=[codes[i::concurrency] for i in range(concurrency)])[0]
    pairs = bench.directory / "codes.txt"
    pairs.write_text("".join(f"{code} {verifier}\n" for code, verifier in codes),
                     encoding="utf-8")
    try:
        result, out = bench.wrk(
            "code", "/token", warmup=0, script=SCRIPT,
            script_args=[bench.basic, CODE_FORM, str(pairs), str(args.wrk_threads)])
    finally:
        pairs.unlink(missing_ok=True)
    stats = [tuple(map(int, found)) for found in re.findall(
        r"^CODE_STATS (\d+) (\d+) (\d+) (\d+)$", out, re.M)]
    used, bad, empty = (sum(s[i] for s in stats) for i in (1, 2, 3))
    if len(stats) != args.wrk_threads:
        result.errors += 1
        result.notes.append("wrk's Lua script did not report (CODE_STATS)")
    result.notes.append(f"{used} codes sent, each once, of {count} minted")
    if bad:
        result.errors += bad
        result.notes.append(f"{bad} 200 answers without an access_token and id_token")
    if empty:
        result.notes.append(f"{empty} requests found no code left (sent a dummy one, "
                            "refused: raise --codes-per-second)")
    return result


def run(bench: Bench) -> None:
    grantee = code_grantee(bench.provider, bench.grants[0].tokens)
    for which in bench.tools:
        bench.measured(f"code: authorization-code exchanges, one fresh code each, for "
                       f"{bench.args.seconds:g} s with {which}",
                       lambda which=which: measure(bench, which, grantee))
