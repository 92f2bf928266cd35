"""Operations: health and readiness, Prometheus metrics, structured logs."""

from __future__ import annotations

from flask import Flask

from idp.ops.logs import AccessLog

__all__ = ["AccessLog", "init_app"]


def init_app(app: Flask) -> None:
    """Attach the request id and metrics hooks and the /healthz, /readyz, /metrics routes."""
    from idp.ops import health, logs, metrics

    logs.init_app(app)
    metrics.init_app(app)
    app.register_blueprint(health.bp)
