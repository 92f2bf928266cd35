"""discovery: GET /.well-known/openid-configuration, served from memory."""

from bench.loads.base import Bench


def run(bench: Bench) -> None:
    bench.measure_get("discovery", "/.well-known/openid-configuration")
