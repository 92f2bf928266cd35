"""The audit log is hash-chained (over several independent chains): editing, deleting or
moving any row is detected."""

from __future__ import annotations

import threading

from click.testing import CliRunner
from sqlalchemy import delete, select, update

from idp.audit import recent_window, record_event, row_digest, verify_chain
from idp.cli import main
from idp.store.models import AuditEvent
from tests.conftest import config


def _events(app, n: int) -> None:
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "10.0.0.7"}):
        for i in range(n):
            record_event("login", "success", account_id=i, method="pwd+sms", n=i)


def _verify(provider):
    with provider.db.sessions() as session:
        return verify_chain(session)


def _rows(provider) -> list[AuditEvent]:
    with provider.db.sessions() as session:
        return session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()


def _next_in_chain(rows: list[AuditEvent]) -> tuple[AuditEvent, AuditEvent]:
    """The first row that has a later row in its chain, and that later row."""
    for i, row in enumerate(rows):
        later = next((r for r in rows[i + 1:] if r.chain == row.chain), None)
        if later is not None:
            return row, later
    raise AssertionError("no chain holds two rows")


@config(audit={"chains": 3})
def test_rows_spread_over_chains_each_linked_through_its_own_rows(app, provider):
    _events(app, 12)
    report = _verify(provider)
    assert report.broken_at is None and report.rows == 12
    rows = _rows(provider)
    chains = {row.chain for row in rows}
    assert len(chains) > 1 and chains <= {0, 1, 2}
    for chain in chains:
        linked = [row for row in rows if row.chain == chain]
        assert linked[0].prev_hash == ""
        assert all(b.prev_hash == a.row_hash for a, b in zip(linked, linked[1:], strict=False))
        assert report.heads[chain] == linked[-1].row_hash
    assert rows[0].ip == "10.0.0.7"


@config(audit={"chains": 1})
def test_one_chain_links_consecutive_rows(app, provider):
    _events(app, 5)
    rows = _rows(provider)
    assert {row.chain for row in rows} == {0}
    assert rows[0].prev_hash == ""
    assert all(b.prev_hash == a.row_hash for a, b in zip(rows, rows[1:], strict=False))
    assert _verify(provider).broken_at is None


def test_edited_row_is_detected(app, provider):
    _events(app, 5)
    third = _rows(provider)[2]
    with provider.db.begin() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == third.id)
                        .values(result="failure"))
    report = _verify(provider)
    assert report.broken_at == third.id and report.rows == 2


@config(audit={"chains": 3})
def test_edited_detail_or_rehashed_row_is_detected(app, provider):
    _events(app, 12)
    edited, successor = _next_in_chain(_rows(provider))
    with provider.db.begin() as session:
        row = session.get(AuditEvent, edited.id)
        # A forger who recomputes the edited row's own hash still breaks the next link.
        row.detail = {"n": 99}
        row.row_hash = row_digest(row, row.prev_hash)
    assert _verify(provider).broken_at == successor.id


@config(audit={"chains": 3})
def test_deleted_row_is_detected(app, provider):
    _events(app, 12)
    deleted, successor = _next_in_chain(_rows(provider))
    with provider.db.begin() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == deleted.id))
    assert _verify(provider).broken_at == successor.id


@config(audit={"chains": 3})
def test_row_moved_to_another_chain_is_detected(app, provider):
    _events(app, 12)
    moved = _rows(provider)[-1]
    with provider.db.begin() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == moved.id)
                        .values(chain=(moved.chain + 1) % 3))
    assert _verify(provider).broken_at == moved.id


def test_concurrent_appends_keep_every_chain_intact(app, provider):
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
        f'[data]\nkek = "{settings.data.kek}"\n'
    )
    runner = CliRunner()
    ok = runner.invoke(main, ["--config", str(config), "audit", "verify"])
    assert ok.exit_code == 0 and "intact: 3 rows" in ok.output
    heads = _verify(provider).heads
    assert all(f"chain {chain}: {head}" in ok.output for chain, head in heads.items())
    with provider.db.begin() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == 2).values(ip="1.2.3.4"))
    broken = runner.invoke(main, ["--config", str(config), "audit", "verify"])
    assert broken.exit_code == 1 and "BROKEN at row 2" in broken.output


@config(audit={"chains": 3})
def test_recent_window_checks_only_the_rows_after_it(app, provider):
    _events(app, 12)
    rows = _rows(provider)
    window_start = rows[5].id
    with provider.db.begin() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == rows[2].id)
                        .values(result="failure"))
    with provider.db.sessions() as session:
        assert recent_window(session, 6) == window_start
        window = verify_chain(session, after_id=window_start)
    # The edit before the window is not the window's business; the whole log finds it.
    assert window.broken_at is None and window.rows == 6 and window.after_id == window_start
    assert _verify(provider).broken_at == rows[2].id
    with provider.db.begin() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == rows[8].id)
                        .values(result="failure"))
    with provider.db.sessions() as session:
        assert verify_chain(session, after_id=window_start).broken_at == rows[8].id


def test_verification_reports_progress(app, provider):
    _events(app, 5)
    seen = []
    with provider.db.sessions() as session:
        verify_chain(session, batch=2, progress_every=2,
                     on_progress=lambda count, last_id: seen.append((count, last_id)))
    ids = [row.id for row in _rows(provider)]
    assert seen == [(2, ids[1]), (4, ids[3])]
