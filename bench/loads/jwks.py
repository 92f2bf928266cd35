"""jwks: GET /jwks, the public signing keys, served from memory."""

from bench.loads.base import Bench


def run(bench: Bench) -> None:
    bench.measure_get("jwks", "/jwks")
