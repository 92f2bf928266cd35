"""A provider for the service-level tests of tests/unit/<package>/: the services are called
directly, without HTTP, on the embedded backend only (SQLite and the SQL state store).

One app per test package (building one costs more than most of these tests); each test
runs in a request context of its own and everything it left behind (rows, state entries,
counters, the SMS and e-mail outboxes) is wiped after it, so no test sees another's
counters. A package's conftest.py imports `app` and `provider` from here: they replace the
fixtures of the same name in tests/conftest.py, so its `make_account` works with them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import delete

from idp import create_app
from idp.store.models import Base
from tests.conftest import make_settings, read_otps

ADDRESS = "203.0.113.7"
"""The network address of every test's request (a documentation address)."""
KEPT_TABLES = {"signing_keys", "data_keys", "alembic_version"}
"""What the migrated template brings and every test needs."""


def build_app(tmp: Path, template: Path, **sections) -> Flask:
    """A provider on a copy of the migrated SQLite template, outboxes under `tmp`."""
    path = tmp / "idp.sqlite3"
    shutil.copy(template, path)
    sections.setdefault("email", {"outbox_path": str(tmp / "mail.jsonl")})
    settings = make_settings(tmp, f"sqlite:///{path}", "sql", **sections)
    app = create_app(settings)
    app.config["TESTING"] = True
    app.extensions["idp.sms_queue"].background = False
    return app


def wipe(app: Flask) -> None:
    """Forget every row and state entry a test wrote (keys stay), and both outboxes."""
    provider = app.extensions["idp.provider"]
    with provider.db.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in KEPT_TABLES:
                connection.execute(delete(table))
    settings = provider.settings
    for outbox in (settings.sms.outbox_path, settings.connectors["email"].outbox_path):
        Path(outbox).unlink(missing_ok=True)


@pytest.fixture(scope="package")
def app(tmp_path_factory, sqlite_template) -> Iterator[Flask]:
    app = build_app(tmp_path_factory.mktemp("service-app"), sqlite_template)
    yield app
    app.extensions["idp.provider"].db.engine.dispose()


@pytest.fixture
def provider(app):
    """The provider, inside a request context of the test's own; wiped clean afterwards."""
    try:
        with app.test_request_context("/", environ_base={"REMOTE_ADDR": ADDRESS}):
            yield app.extensions["idp.provider"]
    finally:
        wipe(app)


def sms_to(provider, phone: str) -> list[str]:
    """The texts of the SMS sent to `phone`, oldest first."""
    return [m["text"] for m in read_otps(provider.settings) if m["to"] == phone]


def spend(limits, name: str, *who: object) -> None:
    """Use up limit `name` for `who`, as that many earlier hits would have."""
    for _ in range(limits.amount(name)):
        limits.hit(name, *who)
