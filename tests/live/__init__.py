"""A provider running for real (`idp serve` under gunicorn) on a free loopback port, the
example portals beside it, and a browser's login through its pages.

Used by the tests that must talk HTTP exactly as portals and browsers do (the independent
relying-party library test, the Chromium end-to-end tests, the multi-node and failover
tests) and by bench/, whose provider is this one with the production argon2id cost, on
SQLite or on a fresh PostgreSQL database with Redis.

  processes  the repository root, a free port, waiting for a server, stopping it
  provider   LiveProvider (SQLite, or a FreshPostgres and Redis), LivePortal, the outbox
  login      a browser's login over HTTP, every request timed; CSRF and redirect helpers
"""

from tests.live.login import (
    LoginStepFailed,
    RegisteredPortal,
    TimedLogin,
    csrf_token,
    http_login,
    query,
    timed_http_login,
)
from tests.live.processes import REPO, free_port, stop_process, wait_for
from tests.live.provider import (
    PG_ADMIN_URL,
    REDIS_URL,
    TEST_PASSWORDS,
    FreshPostgres,
    LivePortal,
    LiveProvider,
    new_database,
    read_outbox,
)

__all__ = [
    "PG_ADMIN_URL", "REDIS_URL", "REPO", "TEST_PASSWORDS", "FreshPostgres", "LivePortal",
    "LiveProvider", "LoginStepFailed", "RegisteredPortal", "TimedLogin", "csrf_token",
    "free_port", "http_login", "new_database", "query", "read_outbox", "stop_process",
    "timed_http_login", "wait_for",
]
