"""refresh: the token endpoint's refresh_token grant with rotation. Every request sends the
refresh token the previous one returned, so each connection is one sequential chain, from
a login grant of its own; afterwards the last token of every open chain must still
refresh (no reuse was detected)."""

from __future__ import annotations

import re
from pathlib import Path

from bench.drivers import LoadResult
from bench.loads.base import Bench, form_headers

SCRIPT = Path(__file__).with_name("refresh.lua")


def rotating_chains(bench: Bench, name: str, server, which: str, authorization: str,
                    tokens: list[str]) -> tuple[LoadResult, list[str]]:
    """One rotating-refresh load of `server` (ours or a reference), one chain per token;
    returns the result and the last token of every chain still open."""
    if which == "wrk":
        result, out = bench.wrk(name, "/token", server=server, threads=1,
                                connections=len(tokens), warmup=0, script=SCRIPT,
                                script_args=[authorization, *tokens])
        last = " ".join(re.findall(r"^FINAL_TOKENS ?(.*)$", out, re.M)).split()
        result.notes.append(f"{len(last)} of {len(tokens)} chains open at the end "
                            "(wrk drops the responses in flight when it stops)")
        return result, last
    return bench.python(name, {"kind": "refresh", "headers": form_headers(authorization)},
                        server=server, chain_tokens=tokens)


def top_up(bench: Bench) -> None:
    """New login grants for the chains that wrk cut off when it stopped."""
    while len(bench.chain_tokens) < bench.concurrency:
        bench.chain_tokens.append(bench.login().tokens["refresh_token"])


def measure(bench: Bench, which: str) -> LoadResult:
    top_up(bench)
    result, last = rotating_chains(bench, "refresh", bench.provider, which, bench.basic,
                                   bench.chain_tokens)
    # Every open chain must still be alive: its last token refreshes once more.
    bench.chain_tokens = [bench.refresh(token)["refresh_token"] for token in last]
    result.notes.append(f"the last token of each of the {len(bench.chain_tokens)} open "
                        "chains still refreshes (no reuse detected)")
    return result


def describe(bench: Bench, which: str) -> str:
    return (f"refresh: {bench.concurrency} rotating chains for {bench.args.seconds:g} s "
            f"with {which}")


def run(bench: Bench) -> None:
    for which in bench.tools:
        bench.measured(describe(bench, which), lambda which=which: measure(bench, which))
    top_up(bench)
