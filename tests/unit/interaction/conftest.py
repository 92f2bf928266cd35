"""The provider the interaction service tests call (see tests/unit/service_app.py)."""

from tests.unit.service_app import app, provider  # noqa: F401
