"""The PostgreSQL restore drill of docs/operations.md, step by step: a nightly base backup
(pg_basebackup, tar, with its WAL) and the audit chains' heads recorded beside it; later
writes; the backup unpacked into a fresh data directory on another port; `idp db check`
and `idp audit verify` against it. The restored database is the one of backup time:
its chain heads are the recorded ones, the later rows are not there."""

from __future__ import annotations

import re
import subprocess
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from idp.accounts import create_account, validate_new_account
from idp.audit import append_event
from idp.config import load_settings
from idp.migrate import upgrade
from idp.security.passwords import PasswordHasher
from idp.store import data_keys
from idp.store.models import Account
from keys import ensure_keys, make_backends
from tests.cluster import person_fields
from tests.live import REPO, free_port
from tests.own_postgres import PostgresPair

pytestmark = pytest.mark.slow


def _config(directory: Path, port: int) -> Path:
    path = directory / f"idp-{port}.toml"
    path.write_text(
        '[server]\nsecret_key = "drill-secret-key-0123456789abcdefghij"\n'
        'pairwise_salt = "drill-pairwise-salt"\n'
        f'[database]\nurl = "postgresql+psycopg://postgres@127.0.0.1:{port}/idp"\n'
        '[keys]\npassphrase = "drill-key-passphrase"\n[audit]\nchains = 4\n')
    return path


def _idp(config: Path, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "idp.cli", "--config", str(config), *args],
        capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _heads(verify_output: str) -> dict[str, str]:
    return dict(re.findall(r"chain (\d+): ([0-9a-f]{64})", verify_output))


def _write(settings, people: range, audit_rows: int) -> None:
    engine = create_engine(settings.database_url)
    data_keys.bind(engine, settings)
    hasher = PasswordHasher(8192, 1, 1)
    with Session(engine) as session:
        for n in people:
            person, fields = person_fields(n)
            create_account(session, validate_new_account(fields, person.password, 0),
                           person.password, hasher, verified_by="operator")
    with engine.begin() as connection:
        for n in range(audit_rows):
            append_event(connection, {
                "at": datetime.now(UTC), "event": "login", "result": "success",
                "account_id": None, "client_id": None, "actor": None, "actor_role": None,
                "ip": "127.0.0.1", "user_agent": "drill", "detail": {"n": n}}, 4)
    engine.dispose()


def test_restore_drill(tmp_path):
    with ExitStack() as started:
        pair = PostgresPair()
        started.callback(pair.stop)
        pair.start(standby=False)
        pair.create_database("idp")
        config = _config(tmp_path, pair.primary_port)
        settings = load_settings(config)
        upgrade(settings)
        engine = create_engine(settings.database_url)
        with Session(engine) as session:
            ensure_keys(session, make_backends(settings.keys)["software"])
            session.commit()
        engine.dispose()
        _write(settings, range(500, 503), audit_rows=60)

        # The nightly backup, and the chain heads recorded beside it.
        heads_at_backup = _heads(_idp(config, "audit", "verify"))
        backup = pair.base_backup()
        assert {p.name for p in backup.iterdir()} >= {"base.tar.gz", "pg_wal.tar.gz"}
        _write(settings, range(503, 505), audit_rows=40)  # after the backup: not restored

        # The drill: restore on a spare port, check the schema and the audit trail.
        port = free_port()
        pair.restore(backup, port)
        restored = _config(tmp_path, port)
        assert "models and migrations agree" in _idp(restored, "db", "check")
        verified = _idp(restored, "audit", "verify")
        assert "intact: 60 rows" in verified
        assert _heads(verified) == heads_at_backup
        engine = create_engine(load_settings(restored).database_url)
        started.callback(engine.dispose)
        data_keys.bind(engine, load_settings(restored))  # the KEK kept apart from the backup
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(Account)) == 3
            restored_person, _ = person_fields(500)
            assert session.scalar(select(Account.full_name).where(
                Account.cccd_is(restored_person.cccd))) == restored_person.full_name
        assert "intact: 100 rows" in _idp(config, "audit", "verify")  # the primary has them
