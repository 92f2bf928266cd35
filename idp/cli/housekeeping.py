"""`idp audit`, `idp tokens`, `idp data purge`, `idp sharing`, `idp backchannel`: checks and
clean-ups an operator runs, by hand or from cron."""

from __future__ import annotations

import json
import sys

import click

from idp.cli import Context, main, pass_context
from idp.cli.database import data
from idp.db import make_engine


@main.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
@pass_context
def audit_verify(ctx: Context) -> None:
    """Recompute the chain; exit 1 at the first edited or deleted row."""
    from idp.audit import verify_chain

    sessions = ctx.sessions()
    click.echo("==> verifying the audit chain, every row from the first")
    with sessions() as session:
        report = verify_chain(session, secret_key=ctx.settings.server.secret_key,
                              on_progress=lambda rows, last_id: click.echo(
                                  f"  {rows:,} rows intact so far (up to row {last_id})"))
    if report.broken_at is not None:
        click.echo(f"BROKEN at row {report.broken_at}: {report.reason} "
                   f"({report.rows} rows before it are intact)", err=True)
        sys.exit(1)
    if report.checkpoints:
        click.echo(f"{report.checkpoints} sealed purge checkpoint(s) vouch for the links over "
                   "purged rows")
    click.echo(f"intact: {report.rows} rows in {len(report.heads)} chain(s); last hash of each:")
    for chain, head in sorted(report.heads.items()):
        click.echo(f"  chain {chain}: {head}")


@main.group()
def tokens() -> None:
    """Issued tokens."""


@tokens.command("purge")
@click.option("--batch", type=click.IntRange(100, 100_000), default=5000, show_default=True,
              help="Rows deleted per transaction.")
@pass_context
def tokens_purge(ctx: Context, batch: int) -> None:
    """Delete refresh tokens whose family ended (run it hourly, e.g. from a systemd timer)."""
    from idp.oidc.purge import MARGIN_SECONDS, purge_ended_refresh_tokens

    engine = make_engine(ctx.settings.database_url)
    click.echo(f"==> deleting refresh tokens of families that ended over {MARGIN_SECONDS} s "
               f"ago, {batch} per transaction")
    total = 0
    try:
        for deleted in purge_ended_refresh_tokens(engine, batch=batch):
            total += deleted
            if deleted == batch:
                click.echo(f"  {total} deleted so far")
    finally:
        engine.dispose()
    click.echo(f"done: {total} refresh token(s) deleted")


@data.command("purge")
@click.option("--batch", type=click.IntRange(100, 100_000), default=5000, show_default=True,
              help="Audit rows looked at per transaction.")
@pass_context
def data_purge(ctx: Context, batch: int) -> None:
    """Delete audit rows past [retention] (run it daily, e.g. from a systemd timer); each
    batch seals a checkpoint so `idp audit verify` still passes."""
    from idp.audit import record_purge
    from idp.audit_retention import purge_audit

    retention = ctx.settings.retention
    engine = make_engine(ctx.settings.database_url)
    click.echo(f"==> deleting access-history rows older than {retention.access_history_days} "
               f"days and other audit rows older than {retention.audit_days} days, "
               f"{batch} rows looked at per transaction")
    looked_at = deleted = 0
    try:
        for done in purge_audit(engine, ctx.settings.server.secret_key,
                                access_days=retention.access_history_days,
                                audit_days=retention.audit_days, batch=batch):
            looked_at += done.looked_at
            deleted += done.deleted
            click.echo(f"  {looked_at:,} rows looked at, {deleted:,} deleted "
                       f"(up to row {done.through_id})")
        if deleted:
            record_purge(engine, ctx.settings.audit.chains, deleted, retention)
    finally:
        engine.dispose()
    click.echo(f"done: {deleted} audit row(s) deleted")


@main.group()
def sharing() -> None:
    """Identity data citizens share by QR code."""


@sharing.command("purge")
@pass_context
def sharing_purge(ctx: Context) -> None:
    """Delete expired QR-code shares (run it hourly with `idp tokens purge`); their reads
    stay in the audit log."""
    from idp.sharing.services import purge_ended_shares

    engine = make_engine(ctx.settings.database_url)
    try:
        deleted = purge_ended_shares(engine)
    finally:
        engine.dispose()
    click.echo(f"done: {deleted} expired share(s) deleted")


@main.group()
def backchannel() -> None:
    """Back-channel logout deliveries still owed to portals."""


@backchannel.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def backchannel_status(ctx: Context, as_json: bool) -> None:
    """Per portal: deliveries pending (being retried) and failed (given up)."""
    from datetime import UTC, datetime

    from idp.oidc.deliveries import backlog

    engine = make_engine(ctx.settings.database_url)
    try:
        portals = backlog(engine)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps([
            {"client_id": p.client_id, "pending": p.pending, "failed": p.failed,
             "oldest": datetime.fromtimestamp(p.oldest, UTC).isoformat(timespec="seconds"),
             "last_error": p.last_error} for p in portals], indent=2))
        return
    if not portals:
        click.echo("nothing pending: every portal has its logouts")
        return
    click.echo(f"{'portal':24} {'pending':>8} {'failed':>8}  oldest (UTC)          last error")
    for p in portals:
        oldest = datetime.fromtimestamp(p.oldest, UTC).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{p.client_id:24} {p.pending:8} {p.failed:8}  {oldest}   "
                   f"{p.last_error or '-'}")


@backchannel.command("retry")
@click.argument("client_id")
@pass_context
def backchannel_retry(ctx: Context, client_id: str) -> None:
    """Queue a portal's given-up deliveries again (once the portal is fixed)."""
    from idp.oidc.deliveries import retry_failed

    engine = make_engine(ctx.settings.database_url)
    try:
        count = retry_failed(engine, client_id, ctx.settings.logout.backchannel_give_up_after)
    finally:
        engine.dispose()
    click.echo(f"{count} delivery(ies) to {client_id} queued again; running providers send "
               "them within seconds")
