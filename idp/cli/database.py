"""`idp db`, `idp keys`, `idp data encrypt`: the schema, the signing keys and the keys of
personal data."""

from __future__ import annotations

import json

import click
from sqlalchemy.orm import sessionmaker

from idp.cli import Context, main, pass_context
from idp.config import ConfigError, Settings, load_settings
from idp.db import make_engine


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Apply migrations, then create signing keys on first run."""
    from idp.migrate import upgrade
    from idp.store.reencryption import accounts_in_clear
    from keys import ensure_keys, make_backends

    click.echo("==> applying migrations")
    upgrade(ctx.settings)
    click.echo("==> checking signing keys")
    backend = make_backends(ctx.settings.keys)[ctx.settings.keys.backend]
    with ctx.sessions().begin() as session:
        for change in ensure_keys(session, backend):
            click.echo(f"    {change}")
    if accounts_in_clear(ctx.engine()[0]):
        click.echo("==> some personal data is still stored in clear: run `idp data encrypt` "
                   "before serving logins")
    click.echo("database is up to date")


@db.command("check")
@pass_context
def db_check(ctx: Context) -> None:
    """Fail if the models and the migrations have drifted apart."""
    from idp.migrate import check

    check(ctx.settings)
    click.echo("models and migrations agree")


@main.group()
def keys() -> None:
    """Token-signing keys."""


def _max_token_ttl(settings: Settings) -> int:
    tokens = settings.tokens
    # Other workers may sign with the old key until their next reload. A shared-identity
    # credential lives as long as its share (idp/sharing).
    longest = max(tokens.access_token_ttl, tokens.id_token_ttl, settings.sharing.max_validity)
    return longest + settings.keys.reload_seconds + 60


@keys.command("rotate")
@pass_context
def keys_rotate(ctx: Context) -> None:
    """Promote the pre-published key, retire the current one, publish a new next key."""
    from idp.audit import record_operator_event
    from keys import make_backends, rotate

    backend = make_backends(ctx.settings.keys)[ctx.settings.keys.backend]
    with ctx.sessions().begin() as session:
        changes = rotate(session, backend, max_token_ttl=_max_token_ttl(ctx.settings))
        record_operator_event(session.connection(), ctx.settings.audit.chains, "keys.rotate",
                              changes=[str(change) for change in changes])
    for change in changes:
        click.echo(str(change))


@keys.command("rotate-data-key")
@click.option("--batch", default=1000, show_default=True, help="Rows per committed batch.")
@pass_context
def keys_rotate_data_key(ctx: Context, batch: int) -> None:
    """New key for personal data; every row re-encrypted under it, in batches, while serving.

    Interrupted, it is finished by `idp data encrypt`. Older data keys are kept, so every
    row stays readable throughout.
    """
    from idp.audit import record_operator_event
    from idp.store.data_keys import add_data_key, configured_kek
    from idp.store.reencryption import reencrypt_all

    engine, ring = ctx.engine()
    with ctx.sessions().begin() as session:
        key = add_data_key(session, configured_kek(ctx.settings))
        record_operator_event(session.connection(), ctx.settings.audit.chains,
                              "keys.rotate_data_key", data_key=key.id)
        click.echo(f"new data key {key.id}; running providers encrypt with it within "
                   f"{ctx.settings.keys.reload_seconds} s")
    ring.reload()
    rows = reencrypt_all(engine, ring, lambda line: click.echo(f"    {line}"), batch)
    click.echo(f"{rows} rows re-encrypted under data key {key.id}; rows written meanwhile "
               "by a provider that had not yet reloaded stay readable: run "
               "`idp data encrypt` again later to move them too")


@keys.command("rewrap-data-keys")
@click.option("--from-config", "old_config", required=True,
              type=click.Path(exists=True, dir_okay=False),
              help="The configuration whose [data] KEK wraps the data keys now.")
@pass_context
def keys_rewrap_data_keys(ctx: Context, old_config: str) -> None:
    """Move the personal-data keys to the KEK of this configuration (a new KEK, or the HSM).

    Only the data keys are re-wrapped (no row changes). Stop the providers first, or they
    fail to read the keys until they are restarted with the new configuration.
    """
    from idp.store.data_keys import configured_kek, rewrap

    try:
        old = configured_kek(load_settings(old_config))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    new = configured_kek(ctx.settings)
    engine = make_engine(ctx.settings.database_url)
    with sessionmaker(engine).begin() as session:
        count = rewrap(session, old, new)
    click.echo(f"{count} data keys moved from KEK {old.name} to KEK {new.name}")


# A kid is a base64url thumbprint and may start with "-": never read it as an option.
@keys.command("withdraw", context_settings={"ignore_unknown_options": True})
@click.argument("kid")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_context
def keys_withdraw(ctx: Context, kid: str, yes: bool) -> None:
    """A compromised key: out of the JWKS and deleted now (its tokens stop verifying)."""
    from idp.audit import record_operator_event
    from keys import make_backends, withdraw

    if not yes:
        click.confirm(f"Withdraw {kid}? Tokens it signed stop verifying once portals fetch the "
                      "JWKS again; the citizens concerned log in again", abort=True)
    backend = make_backends(ctx.settings.keys)[ctx.settings.keys.backend]
    with ctx.sessions().begin() as session:
        changes = withdraw(session, backend, kid, max_token_ttl=_max_token_ttl(ctx.settings))
        record_operator_event(session.connection(), ctx.settings.audit.chains, "keys.withdraw",
                              kid=kid, changes=[str(change) for change in changes])
    for change in changes:
        click.echo(str(change))
    click.echo(f"running providers stop publishing {kid} within "
               f"{ctx.settings.keys.reload_seconds} s")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def keys_list(ctx: Context, as_json: bool) -> None:
    """Every key with its state (next, current, retired)."""
    from keys import list_keys

    with ctx.sessions()() as session:
        rows = list_keys(session)
    if as_json:
        click.echo(json.dumps([
            {"kid": r.kid, "alg": r.alg, "state": r.state, "backend": r.backend,
             "unpublish_at": r.unpublish_at.isoformat() if r.unpublish_at else None}
            for r in rows
        ], indent=2))
        return
    for r in rows:
        until = f" (published until {r.unpublish_at:%Y-%m-%d %H:%M})" if r.unpublish_at else ""
        click.echo(f"{r.alg:6} {r.state:8} {r.kid}{until}")


@main.group()
def data() -> None:
    """Personal data: encrypted at rest, purged past its retention."""


@data.command("encrypt")
@click.option("--batch", default=1000, show_default=True, help="Rows per committed batch.")
@pass_context
def data_encrypt(ctx: Context, batch: int) -> None:
    """Encrypt rows still in clear and move rows under older data keys to the active one.

    Run after `idp db upgrade` from a version without encryption at rest; safe to stop and
    run again.
    """
    from idp.store.reencryption import reencrypt_all

    engine, ring = ctx.engine()
    rows = reencrypt_all(engine, ring, lambda line: click.echo(f"    {line}"), batch)
    click.echo(f"{rows} rows (re-)encrypted; every personal value is under data key "
               f"{ring.encryption_key()[0]}")
