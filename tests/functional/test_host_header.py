"""`[server] enforce_host`: a request whose Host is not the issuer's is refused."""

from __future__ import annotations

from idp import create_app
from tests.conftest import ISSUER


def test_host_header_other_than_the_issuer_is_refused_when_configured(settings_for):
    app = create_app(settings_for(server={"enforce_host": True}))
    client = app.test_client()
    try:
        # The balancer's health checks reach a node by its own address.
        assert client.get("/healthz", base_url="http://10.0.0.5:8000").status_code == 200
        assert client.get("/register", base_url=ISSUER).status_code == 200
        for forged in ("https://evil.example", "https://sso.test.evil.example"):
            refused = client.get("/register", base_url=forged)
            assert refused.status_code == 400
            assert "evil.example" not in refused.get_data(as_text=True)
    finally:
        state = app.extensions["idp.provider"].state
        if hasattr(state, "redis"):
            for key in state.redis.scan_iter(state.prefix + "*"):
                state.redis.delete(key)
        app.extensions["idp.provider"].db.engine.dispose()


def test_host_header_is_served_by_default(app):
    """Off by default (a proxy may rewrite Host); links never use it either way."""
    client = app.test_client()
    assert client.get("/register", base_url="https://other.example").status_code == 200
