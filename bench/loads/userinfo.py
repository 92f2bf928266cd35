"""userinfo: GET /userinfo with a bearer access token (verify ES256, check revocation in the
state store, read the account)."""

from bench.loads.base import Bench


def run(bench: Bench) -> None:
    bench.measure_get("userinfo", "/userinfo", bearer=True)
