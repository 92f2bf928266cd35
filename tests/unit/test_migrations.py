"""Migrations and models never drift, and every migration runs down and up again."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from alembic import command
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from idp.audit import append_event, row_digest, verify_chain
from idp.migrate import alembic_config, check, upgrade
from idp.store import data_keys
from idp.store.models import Account, OtpPhone
from idp.store.reencryption import accounts_in_clear, reencrypt_all
from tests.conftest import fresh_postgres_database, make_settings


def test_upgrade_check_downgrade_upgrade(tmp_path):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'm.sqlite3'}", "sql")
    upgrade(settings)
    check(settings)  # raises when models and migrations disagree
    command.downgrade(alembic_config(settings), "base")
    upgrade(settings)
    check(settings)


def test_postgresql_upgrade_keeps_the_audit_chain_and_widens_growing_ids(tmp_path):
    """0005 on PostgreSQL with rows already written: the old rows stay one intact chain 0,
    new rows spread over chains, and the ids of the growing tables become BIGINT."""
    with fresh_postgres_database("idp_migrate", "PostgreSQL migration skipped") as url:
        settings = make_settings(tmp_path, url, "sql")
        engine = create_engine(url)
        try:
            _upgrade_with_old_audit_rows(settings, engine)
        finally:
            engine.dispose()


def _upgrade_with_old_audit_rows(settings, engine) -> None:
    upgrade(settings, "0004")
    with engine.begin() as connection:  # rows as the single chain before 0005 sealed them
        prev = ""
        for n in range(3):
            row = {"id": n + 1, "at": datetime(2026, 11, 1, 8, n), "event": "login",
                   "result": "success", "account_id": n, "client_id": None,
                   "actor": None, "actor_role": None, "ip": "10.0.0.1",
                   "user_agent": "ua", "detail": {"n": n}}
            digest = row_digest(SimpleNamespace(chain=0, **row), prev)
            connection.execute(text(
                "INSERT INTO audit_events (id, at, event, result, account_id, client_id, "
                "actor, actor_role, ip, user_agent, detail, prev_hash, row_hash) VALUES "
                "(:id, :at, :event, :result, :account_id, :client_id, :actor, :actor_role, "
                ":ip, :user_agent, CAST(:detail AS JSON), :prev, :hash)"),
                {**row, "detail": json.dumps(row["detail"]), "prev": prev, "hash": digest})
            prev = digest
        connection.execute(text("SELECT setval('audit_events_id_seq', 3)"))
    upgrade(settings)
    check(settings)
    with engine.begin() as connection:
        for _ in range(20):
            append_event(connection, {"at": datetime.now(UTC), "event": "otp.send",
                                      "result": "success", "account_id": None,
                                      "client_id": None, "actor": None,
                                      "actor_role": None, "ip": None, "user_agent": None,
                                      "detail": {}}, chains=4)
        connection.execute(text("SELECT setval('refresh_tokens_id_seq', 3000000000)"))
        past_int32 = connection.execute(
            text("SELECT nextval('refresh_tokens_id_seq')")).scalar()
        connection.execute(text("SELECT setval('refresh_tokens_id_seq', 1, false)"))
        types = dict(connection.execute(text(
            "SELECT table_name, data_type FROM information_schema.columns WHERE "
            "column_name = 'id' AND table_name IN ('audit_events', 'refresh_tokens')")).all())
    with Session(engine) as session:
        report = verify_chain(session)
    assert report.broken_at is None and report.rows == 23 and len(report.heads) > 1
    assert types == {"audit_events": "bigint", "refresh_tokens": "bigint"}
    assert past_int32 == 3000000001
    command.downgrade(alembic_config(settings), "0004")
    upgrade(settings)
    check(settings)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_rows_in_clear_before_0015_are_encrypted_after_it(dialect, tmp_path):
    """The upgrade path of a live database: 0015 changes the columns, `idp data encrypt`
    (reencrypt_all) then encrypts the rows and fills their blind indexes."""
    if dialect == "sqlite":
        _upgrade_clear_rows(tmp_path, f"sqlite:///{tmp_path / 'clear.sqlite3'}")
        return
    with fresh_postgres_database("idp_migrate", "PostgreSQL migration skipped") as url:
        _upgrade_clear_rows(tmp_path, url)


def _upgrade_clear_rows(tmp_path, url: str) -> None:
    settings = make_settings(tmp_path, url, "sql")
    upgrade(settings, "0014")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO accounts (id, subject, cccd, full_name, birthdate, gender, "
                "email, email_verified, password_hash, account_type, ial, verified_by, "
                "status, created_at, password_changed_at, birthdate_verified) VALUES (7, "
                "'sub-7', '001085000123', 'Nguyễn Văn An', :born, 'male', 'an@example.vn', "
                "false, 'x', 'citizen', 2, 'operator', 'active', :now, :now, true)"),
                {"born": date(1985, 3, 15), "now": datetime.now(UTC)})
            connection.execute(text(
                "INSERT INTO otp_phones (account_id, phone, is_default, created_at) "
                "VALUES (7, '+84912345678', true, :now)"), {"now": datetime.now(UTC)})
        upgrade(settings)
        check(settings)
        ring = data_keys.bind(engine, settings)
        assert accounts_in_clear(engine)  # what `idp db upgrade` warns about
        lines: list[str] = []
        reencrypt_all(engine, ring, lines.append)
        assert "accounts: 1/1 rows read, 1 re-encrypted" in lines
        assert not accounts_in_clear(engine)
        with engine.connect() as connection:
            raw = connection.execute(text("SELECT cccd, full_name, birthdate FROM accounts")).one()
        assert all(value.startswith("v1.") for value in raw)
        with Session(engine) as session:
            account = session.scalar(select(Account).where(Account.cccd_is("001085000123")))
            assert (account.id, account.full_name, account.birthdate) == (
                7, "Nguyễn Văn An", date(1985, 3, 15))
            assert session.scalar(select(OtpPhone.account_id).where(
                OtpPhone.phone_is("+84912345678"))) == 7
    finally:
        engine.dispose()
