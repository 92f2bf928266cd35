"""Shares expire and are purged; keys that signed credentials stay published as long as a
credential can live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from click.testing import CliRunner
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from idp.cli import main
from idp.store.models import AuditEvent, IdentityShare, SigningKey


def _config(tmp_path, settings):
    config = tmp_path / "cli.toml"
    config.write_text(
        f'[server]\nsecret_key = "{"s" * 40}"\npairwise_salt = "{"p" * 20}"\n'
        f'[keys]\npassphrase = "{"k" * 20}"\n[database]\nurl = "{settings.database_url}"\n'
    )
    return config


def _age(provider, share_id: int, seconds: int) -> None:
    with provider.db.sessions() as session:
        session.execute(update(IdentityShare).where(IdentityShare.id == share_id).values(
            expires_at=datetime.now(UTC) - timedelta(seconds=seconds)))
        session.commit()


def test_expired_shares_are_purged_and_their_reads_stay_audited(
        provider, settings, citizen, share_of, read, tmp_path):
    account_id, _ = citizen
    ended, code = share_of(account_id)
    assert read(code).credential
    revoked_and_ended, _ = share_of(account_id)
    live, _ = share_of(account_id)
    _age(provider, ended, 60)
    _age(provider, revoked_and_ended, 1)

    result = CliRunner().invoke(main, ["--config", str(_config(tmp_path, settings)),
                                       "sharing", "purge"])
    assert result.exit_code == 0, result.output
    assert "done: 2 expired share(s) deleted" in result.output
    with provider.db.sessions() as session:
        assert session.scalars(select(IdentityShare.id)).all() == [live]
        reads = session.scalars(select(AuditEvent.detail).where(
            AuditEvent.event == "share.read")).all()
    assert [detail["share"] for detail in reads] == [ended]
    assert read(code).refused == "not_found"


def test_making_a_share_purges_the_accounts_ended_ones(provider, citizen, share_of):
    account_id, _ = citizen
    ended, _ = share_of(account_id)
    _age(provider, ended, 5)
    newer, _ = share_of(account_id)
    with provider.db.sessions() as session:
        assert session.scalars(select(IdentityShare.id)).all() == [newer]


def test_rotation_keeps_a_retired_key_published_as_long_as_a_share_lives(tmp_path):
    # A database of its own: rotating the shared PostgreSQL test database's keys would
    # change what the other tests see.
    database = SimpleNamespace(database_url=f"sqlite:///{tmp_path / 'keys.sqlite3'}")
    config = str(_config(tmp_path, database))
    for command in (["db", "upgrade"], ["keys", "rotate"]):
        result = CliRunner().invoke(main, ["--config", config, *command])
        assert result.exit_code == 0, result.output
    engine = create_engine(database.database_url)
    with Session(engine) as session:
        retired = session.scalars(select(SigningKey).where(SigningKey.state == "retired")).all()
    engine.dispose()
    assert {key.alg for key in retired} == {"RS256", "ES256"}
    for key in retired:
        assert key.unpublish_at - key.retired_at >= timedelta(seconds=86400)
