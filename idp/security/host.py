"""The Host check: with `[server] enforce_host`, only requests for the issuer's host are served."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request

from idp.errors import error_page
from idp.provider import provider

# Probes of the load balancer and Prometheus reach a node by its own address.
PROBES = ("ops.healthz", "ops.readyz", "ops.metrics")


def refuse_other_hosts():
    """Answer 400 to a request whose Host header names another site than the issuer."""
    expected = urlsplit(provider().issuer).netloc.lower()
    if request.host.lower() != expected and request.endpoint not in PROBES:
        return error_page(400)
    return None
