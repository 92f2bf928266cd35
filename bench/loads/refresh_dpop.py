"""refresh-dpop: the refresh load with DPoP-bound tokens (RFC 9449). Every request carries
a fresh ES256 proof of its connection's key with the provider's nonce, which the provider
verifies, remembers (jti) and binds to; measured by the python client, next to a bearer
refresh by the same client. Afterwards each chain's last token must be refused without its
key."""

from __future__ import annotations

from bench.drivers import LoadResult
from bench.loads import refresh
from bench.loads.base import Bench, form_headers


def measure(bench: Bench) -> LoadResult:
    tokens = [bench.login().tokens["refresh_token"] for _ in range(bench.concurrency)]
    result, last = bench.python(
        "refresh-dpop", {"kind": "refresh-dpop", "htu": bench.provider.issuer + "/token",
                         "headers": form_headers(bench.basic)}, chain_tokens=tokens)
    bound = 0
    for token in last:
        try:
            bench.refresh(token)
        except OSError:  # invalid_grant: the token is bound to the chain's key
            bound += 1
    if bound != len(last):
        result.errors += len(last) - bound
    result.notes.append(f"{bound} of the {len(last)} chains' last tokens are refused "
                        "without their DPoP key (bound)")
    return result


def run(bench: Bench) -> None:
    if "python" not in bench.tools:  # the bearer figure next to it, by the same client
        bench.measured(refresh.describe(bench, "python") + " (next to refresh-dpop)",
                       lambda: refresh.measure(bench, "python"))
    bench.measured(f"refresh-dpop: {bench.concurrency} DPoP-bound rotating chains for "
                   f"{bench.args.seconds:g} s with python", lambda: measure(bench))
