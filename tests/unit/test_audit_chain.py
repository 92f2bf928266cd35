"""The audit log is hash-chained: editing or deleting any row is detected."""

from __future__ import annotations

import threading

from click.testing import CliRunner
from sqlalchemy import delete, select, update

from idp.audit import record_event, verify_chain
from idp.cli import main
from idp.store.models import AuditEvent


def _events(app, n: int) -> None:
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "10.0.0.7"}):
        for i in range(n):
            record_event("login", "success", account_id=i, method="pwd+sms", n=i)


def _verify(provider):
    with provider.db.sessions() as session:
        return verify_chain(session)


def test_chain_is_intact_and_links_every_row(app, provider):
    _events(app, 5)
    report = _verify(provider)
    assert report.broken_at is None and report.rows == 5
    with provider.db.sessions() as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert rows[0].prev_hash == ""
    assert all(b.prev_hash == a.row_hash for a, b in zip(rows, rows[1:], strict=False))
    assert rows[0].ip == "10.0.0.7"


def test_edited_row_is_detected(app, provider):
    _events(app, 5)
    with provider.db.begin() as session:
        third = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()[2]
        session.execute(update(AuditEvent).where(AuditEvent.id == third.id)
                        .values(result="failure"))
    report = _verify(provider)
    assert report.broken_at == third.id and report.rows == 2


def test_edited_detail_or_rehashed_row_is_detected(app, provider):
    _events(app, 4)
    with provider.db.begin() as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        # A forger who recomputes the edited row's own hash still breaks the next link.
        from idp.audit import row_digest

        rows[1].detail = {"n": 99}
        rows[1].row_hash = row_digest(rows[1], rows[1].prev_hash)
    report = _verify(provider)
    assert report.broken_at == rows[2].id


def test_deleted_row_is_detected(app, provider):
    _events(app, 5)
    with provider.db.begin() as session:
        second = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()[1]
        session.execute(delete(AuditEvent).where(AuditEvent.id == second.id))
    report = _verify(provider)
    assert report.broken_at == second.id + 1


def test_concurrent_appends_keep_one_chain(app, provider):
    def worker():
        with app.app_context():
            for _ in range(10):
                record_event("otp.send", "success")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = _verify(provider)
    assert report.broken_at is None and report.rows == 40


def test_cli_verify_reports_and_fails_on_tampering(app, provider, settings, tmp_path,
                                                   monkeypatch):
    _events(app, 3)
    config = tmp_path / "cli.toml"
    config.write_text(
        f'[server]\nsecret_key = "{"s" * 40}"\npairwise_salt = "{"p" * 20}"\n'
        f'[keys]\npassphrase = "{"k" * 20}"\n[database]\nurl = "{settings.database_url}"\n'
    )
    runner = CliRunner()
    ok = runner.invoke(main, ["--config", str(config), "audit", "verify"])
    assert ok.exit_code == 0 and "intact: 3 rows" in ok.output
    with provider.db.begin() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == 2).values(ip="1.2.3.4"))
    broken = runner.invoke(main, ["--config", str(config), "audit", "verify"])
    assert broken.exit_code == 1 and "BROKEN at row 2" in broken.output
