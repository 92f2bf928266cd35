"""The named loads (`bench/run.py --only`), one module each, in the order a run measures
them; the wrk Lua scripts of those that need one sit beside them (*.lua)."""

from bench.loads import (
    code,
    discovery,
    introspect,
    jwks,
    login,
    refresh,
    refresh_dpop,
    userinfo,
)
from bench.loads.base import Bench, Load

LOADS = {
    "discovery": Load(discovery.run),
    "jwks": Load(jwks.run),
    "userinfo": Load(userinfo.run),
    "introspect": Load(introspect.run),
    "refresh": Load(refresh.run),
    "refresh-dpop": Load(refresh_dpop.run),
    "code": Load(code.run),
    "login": Load(login.run, after_references=True),
}

__all__ = ["LOADS", "Bench", "Load"]
