"""`idp data purge`: audit rows past retention go, recent ones stay, and the hash chains
still verify through the sealed checkpoints, which cannot be edited, dropped or forged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select, update

from idp.audit import append_event, verify_chain
from idp.audit_retention import purge_audit
from idp.cli import main
from idp.store.models import AuditCheckpoint, AuditEvent, AuditLink
from tests.conftest import config

NOW = datetime.now(UTC)


def _append(provider, event: str, days_ago: int, count: int = 1) -> None:
    with provider.db.engine.begin() as connection:
        for n in range(count):
            append_event(connection, {
                "at": NOW - timedelta(days=days_ago, seconds=count - n), "event": event,
                "result": "success", "account_id": 7, "client_id": None, "actor": None,
                "actor_role": None, "ip": "10.0.0.1", "user_agent": "ua", "detail": {"n": n},
            }, provider.settings.audit.chains)


def _old_and_new(provider) -> None:
    """Oldest first, as the log grows: rows past every retention, access rows past theirs
    mixed with account changes that stay, and recent rows."""
    _append(provider, "password.change", 2000, 6)
    for _ in range(8):
        _append(provider, "login", 500, 5)
        _append(provider, "otp.send", 500, 2)
        _append(provider, "phone.add", 500)
    _append(provider, "login", 10, 9)
    _append(provider, "staff.unlock", 10, 2)


def _events(provider) -> list[str]:
    with provider.db.sessions() as session:
        return list(session.scalars(select(AuditEvent.event).order_by(AuditEvent.id)))


def _verify(provider, key: str | None = "settings"):
    secret = provider.settings.server.secret_key if key == "settings" else key
    with provider.db.sessions() as session:
        return verify_chain(session, secret_key=secret)


def _purge(provider, batch: int = 7) -> int:
    retention = provider.settings.retention
    return sum(done.deleted for done in purge_audit(
        provider.db.engine, provider.settings.server.secret_key, batch=batch,
        access_days=retention.access_history_days, audit_days=retention.audit_days))


@config(audit={"chains": 3})
def test_purge_keeps_recent_and_long_kept_rows_and_the_chain_verifies(app, provider):
    _old_and_new(provider)
    assert _verify(provider).broken_at is None

    assert _purge(provider) == 6 + 8 * 7
    assert _events(provider) == ["phone.add"] * 8 + ["login"] * 9 + ["staff.unlock"] * 2
    report = _verify(provider)
    assert report.broken_at is None, report.reason
    assert report.rows == 19 and report.checkpoints > 1
    # Without the server's key the checkpoints cannot be trusted.
    assert _verify(provider, None).broken_at is not None
    # Nothing more to do; new rows chain on as before.
    assert _purge(provider) == 0
    _append(provider, "login", 0, 3)
    assert _verify(provider).broken_at is None


@config(audit={"chains": 3})
def test_purge_after_purge_bridges_again(app, provider):
    _old_and_new(provider)
    _purge(provider)
    # Later, the account changes are past their retention too (a shorter one here).
    retention = provider.settings.retention
    deleted = sum(done.deleted for done in purge_audit(
        provider.db.engine, provider.settings.server.secret_key, batch=5,
        access_days=retention.access_history_days, audit_days=400))
    assert deleted == 8
    assert _events(provider) == ["login"] * 9 + ["staff.unlock"] * 2
    assert _verify(provider).broken_at is None


@pytest.mark.parametrize("tamper", ["link", "checkpoint", "drop_checkpoint", "drop_last",
                                    "forged", "row"])
@config(audit={"chains": 3})
def test_tampering_with_a_checkpoint_is_detected(app, provider, tamper):
    _old_and_new(provider)
    _purge(provider)
    with provider.db.sessions() as session:
        first = session.scalar(select(func.min(AuditCheckpoint.id)))
        last = session.scalar(select(func.max(AuditCheckpoint.id)))
        linked = session.scalar(select(AuditLink).order_by(AuditLink.row_id).limit(1))
        if tamper == "link":
            linked.prev_hash = "0" * 64
        elif tamper == "checkpoint":
            session.execute(update(AuditCheckpoint).where(AuditCheckpoint.id == first)
                            .values(rows_purged=0))
        elif tamper == "drop_checkpoint":  # with its links: what it vouched for is unproven
            session.execute(delete(AuditLink).where(AuditLink.checkpoint_id == first))
            session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.id == first))
        elif tamper == "drop_last":
            session.execute(delete(AuditLink).where(AuditLink.checkpoint_id == last))
            session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.id == last))
        elif tamper == "forged":  # a link for a row deleted on purpose, sealed with a guess
            victim = session.scalar(select(AuditEvent).where(AuditEvent.event == "login")
                                    .order_by(AuditEvent.id).limit(1))
            session.delete(victim)
            session.add(AuditCheckpoint(id=last + 1, through_id=victim.id, rows_purged=1,
                                        links_digest="", prev_seal="", seal="f" * 64))
        else:  # a kept row deleted after the purge: found as before
            session.execute(delete(AuditEvent).where(AuditEvent.event == "phone.add")
                            .where(AuditEvent.id == select(func.min(AuditEvent.id))
                                   .where(AuditEvent.event == "phone.add").scalar_subquery()))
        session.commit()
    report = _verify(provider)
    assert report.broken_at is not None, tamper


@config(audit={"chains": 2})
def test_cli_purges_with_progress_and_audit_verify_passes(app, provider, settings, tmp_path):
    _append(provider, "login", 500, 230)
    _append(provider, "login", 1, 4)
    config_file = tmp_path / "cli.toml"
    config_file.write_text(
        f'[server]\nsecret_key = "{settings.server.secret_key}"\n'
        f'pairwise_salt = "{"p" * 20}"\n[keys]\npassphrase = "{settings.keys.passphrase}"\n'
        f'[database]\nurl = "{settings.database_url}"\n[audit]\nchains = 2\n'
        f'[data]\nkek = "{settings.data.kek}"\n')

    result = CliRunner().invoke(main, ["--config", str(config_file), "data", "purge",
                                       "--batch", "100"])

    assert result.exit_code == 0, result.output
    assert "100 rows looked at, 100 deleted" in result.output
    assert "done: 230 audit row(s) deleted" in result.output
    assert _events(provider) == ["login"] * 4 + ["audit.purge"]
    verified = CliRunner().invoke(main, ["--config", str(config_file), "audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "sealed purge checkpoint(s)" in verified.output
