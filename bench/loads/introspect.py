"""introspect: POST /introspect (RFC 7662) of one live access token of the bench portal, by
the portal itself (client_secret_basic); every answer must be `"active": true`."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

from bench.drivers import LoadResult
from bench.loads.base import Bench, form_headers

SCRIPT = Path(__file__).with_name("introspect.lua")


def measure(bench: Bench, which: str) -> LoadResult:
    token = bench.fresh_access_token()
    if which == "wrk":
        result, out = bench.wrk("introspect", "/introspect", script=SCRIPT,
                                script_args=[bench.basic, token], warm_with_script=True)
        counts = re.findall(r"^INACTIVE (\d+)$", out, re.M)
        inactive = sum(int(n) for n in counts)
        if not counts:
            result.errors += 1
            result.notes.append("wrk's Lua script reported nothing (INACTIVE)")
        if inactive:
            result.errors += inactive
            result.notes.append(f"{inactive} answers were not \"active\": true")
        return result
    return bench.python("introspect", {"kind": "introspect", "body": urlencode({"token": token}),
                                       "headers": form_headers(bench.basic)})[0]


def run(bench: Bench) -> None:
    for which in bench.tools:
        bench.measured(f"introspect: {bench.args.seconds:g} s with {which}",
                       lambda which=which: measure(bench, which))
