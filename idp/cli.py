"""The `idp` command: serve, database, keys, clients, accounts, tokens, QR-code shares, audit,
back-channel logout, staff, demo."""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from idp.config import ConfigError, Settings, load_settings
from idp.db import make_engine
from idp.store import data_keys
from idp.store.encrypted import DataKeyError
from keys.base import SigningKeyError


class Context:
    """Settings loaded once, on first use, so `--help` works without a config."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._settings

    def sessions(self) -> sessionmaker:
        return sessionmaker(self.engine()[0], expire_on_commit=False)

    def engine(self) -> tuple[Engine, data_keys.DataKeyRing]:
        """An engine to the database, with the personal-data keys bound to it."""
        engine = make_engine(self.settings.database_url)
        return engine, data_keys.bind(engine, self.settings)


pass_context = click.make_pass_decorator(Context)


class OperatorCommands(click.Group):
    """Failures an operator can fix end in one clear line (exit 1), not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SigningKeyError as exc:
            raise click.ClickException(f"signing keys: {exc}") from None
        except DataKeyError as exc:
            raise click.ClickException(f"personal-data keys: {exc}") from None
        except OperationalError as exc:
            raise click.ClickException(f"cannot use the database: {exc.orig}") from None


@click.group(cls=OperatorCommands)
@click.option("--config", "config_path", envvar="IDP_CONFIG", type=click.Path(dir_okay=False),
              help="TOML configuration file (default: $IDP_CONFIG).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """National single sign-on: OpenID Connect provider."""
    ctx.obj = Context(config_path)


# --- database and keys --------------------------------------------------------------


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
    from keys import make_backends, rotate

    backend = make_backends(ctx.settings.keys)[ctx.settings.keys.backend]
    with ctx.sessions().begin() as session:
        for change in rotate(session, backend, max_token_ttl=_max_token_ttl(ctx.settings)):
            click.echo(str(change))


@keys.command("rotate-data-key")
@click.option("--batch", default=1000, show_default=True, help="Rows per committed batch.")
@pass_context
def keys_rotate_data_key(ctx: Context, batch: int) -> None:
    """New key for personal data; every row re-encrypted under it, in batches, while serving.

    Interrupted, it is finished by `idp data encrypt`. Older data keys are kept, so every
    row stays readable throughout.
    """
    from idp.store.data_keys import add_data_key, configured_kek
    from idp.store.reencryption import reencrypt_all

    engine, ring = ctx.engine()
    with ctx.sessions().begin() as session:
        key = add_data_key(session, configured_kek(ctx.settings))
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
    from idp.config import load_settings
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


@keys.command("withdraw")
@click.argument("kid")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_context
def keys_withdraw(ctx: Context, kid: str, yes: bool) -> None:
    """A compromised key: out of the JWKS and deleted now (its tokens stop verifying)."""
    from keys import make_backends, withdraw

    if not yes:
        click.confirm(f"Withdraw {kid}? Tokens it signed stop verifying once portals fetch the "
                      "JWKS again; the citizens concerned log in again", abort=True)
    backend = make_backends(ctx.settings.keys)[ctx.settings.keys.backend]
    with ctx.sessions().begin() as session:
        for change in withdraw(session, backend, kid, max_token_ttl=_max_token_ttl(ctx.settings)):
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


# --- clients ------------------------------------------------------------------------


@main.group()
def client() -> None:
    """Relying-party portals."""


@client.command("add")
@click.option("--client-id", required=True)
@click.option("--name", required=True, help="Shown to citizens on the login and consent pages.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True)
@click.option("--post-logout-uri", "post_logout_uris", multiple=True)
@click.option("--backchannel-logout-uri")
@click.option("--scope", "scopes", multiple=True, default=("openid", "profile"),
              show_default=True)
@click.option("--auth-method",
              type=click.Choice(["client_secret_basic", "client_secret_post", "private_key_jwt"]),
              help="Default: private_key_jwt for --profile fapi2, else client_secret_basic.")
@click.option("--subject-type", type=click.Choice(["public", "pairwise"]), default="public",
              show_default=True)
@click.option("--id-token-alg", type=click.Choice(["RS256", "ES256"]),
              help="Default: ES256 for --profile fapi2, else RS256.")
@click.option("--session-refresh-tokens", is_flag=True,
              help="Issue refresh tokens bound to the SSO session without offline_access.")
@click.option("--secret", help="Use this secret (32+ chars) instead of a generated one.")
@click.option("--profile", type=click.Choice(["standard", "fapi2"]), default="standard",
              show_default=True,
              help="fapi2: FAPI 2.0 Security Profile (PAR, private_key_jwt, DPoP, PKCE S256).")
@click.option("--jwks", "jwks_file", type=click.File("r", encoding="utf-8"),
              help="The portal's public JWK set (JSON file, '-' for stdin).")
@click.option("--jwks-uri", help="Where the portal publishes its public JWK set.")
@click.option("--require-par", is_flag=True, help="Authorization requests must go through /par.")
@click.option("--require-dpop", is_flag=True, help="Tokens must be DPoP-bound (RFC 9449).")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def client_add(ctx: Context, client_id, name, redirect_uris, post_logout_uris,
               backchannel_logout_uri, scopes, auth_method, subject_type, id_token_alg,
               session_refresh_tokens, secret, profile, jwks_file, jwks_uri, require_par,
               require_dpop, as_json) -> None:
    """Register a portal; prints its secret once (none for private_key_jwt)."""
    from idp.clients import ClientRegistration, InvalidClient, client_summary, register_client

    scopes = [s for value in scopes for s in value.split()]
    try:
        jwks = json.load(jwks_file) if jwks_file is not None else None
    except ValueError as exc:
        raise click.ClickException(f"--jwks: not JSON ({exc})") from None
    default_method = "private_key_jwt" if profile == "fapi2" else "client_secret_basic"
    registration = ClientRegistration(
        client_id=client_id, name=name, redirect_uris=list(redirect_uris),
        post_logout_redirect_uris=list(post_logout_uris),
        backchannel_logout_uri=backchannel_logout_uri, scopes=scopes,
        token_endpoint_auth_method=auth_method or default_method, subject_type=subject_type,
        id_token_alg=id_token_alg, session_refresh_tokens=session_refresh_tokens, secret=secret,
        profile=profile, jwks=jwks, jwks_uri=jwks_uri, require_par=require_par,
        require_dpop=require_dpop,
    )
    with ctx.sessions()() as session:
        try:
            registered, plain_secret = register_client(session, registration)
        except InvalidClient as exc:
            raise click.ClickException(str(exc)) from None
        summary = client_summary(registered)
    if as_json:
        click.echo(json.dumps({**summary, "client_secret": plain_secret}, indent=2))
    else:
        click.echo(f"client {client_id} registered")
        if plain_secret:
            click.echo(f"client secret (shown once, store it now): {plain_secret}")
        else:
            click.echo("no secret: the portal authenticates with its private key")


@client.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def client_list(ctx: Context, as_json: bool) -> None:
    """Every registered portal."""
    from idp.clients import client_summary, list_clients

    with ctx.sessions()() as session:
        rows = [client_summary(c) for c in list_clients(session)]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['client_id']:24} {row['name']}")


@client.command("show")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def client_show(ctx: Context, client_id: str, as_json: bool) -> None:
    """One portal's registration (never its secret)."""
    from idp.clients import client_summary
    from idp.store.models import Client

    with ctx.sessions()() as session:
        found = session.get(Client, client_id)
        if found is None:
            raise click.ClickException(f"no client {client_id!r}")
        row = client_summary(found)
    if as_json:
        click.echo(json.dumps(row, indent=2, ensure_ascii=False))
        return
    for key, value in row.items():
        click.echo(f"{key:28} {value}")


@client.command("remove")
@click.argument("client_id")
@pass_context
def client_remove(ctx: Context, client_id: str) -> None:
    """Delete a portal with its consents and refresh tokens."""
    from idp.clients import announce_client_change
    from idp.store.models import Client
    from idp.store.state import make_state_store

    sessions = ctx.sessions()
    with sessions.begin() as session:
        found = session.get(Client, client_id)
        if found is None:
            raise click.ClickException(f"no client {client_id!r}")
        session.delete(found)
    # Running providers keep registrations in memory; this makes them forget within a second.
    announce_client_change(make_state_store(ctx.settings, sessions.kw["bind"]))
    click.echo(f"client {client_id} removed")


# --- accounts -----------------------------------------------------------------------


@main.group()
def account() -> None:
    """Citizen accounts."""


@account.command("add")
@click.option("--cccd", required=True, help="12-digit personal identification number.")
@click.option("--name", "full_name", required=True)
@click.option("--birthdate", required=True, help="YYYY-MM-DD or DD/MM/YYYY.")
@click.option("--gender", required=True, help="nam/nữ (male/female).")
@click.option("--phone", required=True, help="Mobile number that receives OTP.")
@click.option("--email", default="")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Prompted when not given.")
@pass_context
def account_add(ctx: Context, cccd, full_name, birthdate, gender, phone, email, password) -> None:
    """Create a level-2 account verified by the operator."""
    from idp.accounts import AccountExists, create_account, validate_new_account
    from idp.security.passwords import PasswordHasher
    from vnid.person import InvalidPerson

    raw = {"cccd": cccd, "full_name": full_name, "birthdate": birthdate, "gender": gender,
           "phone": phone, "email": email}
    try:
        person = validate_new_account(raw, password, ctx.settings.passwords.min_zxcvbn_score)
    except InvalidPerson as exc:
        lines = "\n".join(f"  {field}: {message}" for field, message in exc.errors.items())
        raise click.ClickException("dữ liệu không hợp lệ:\n" + lines) from None
    pw = ctx.settings.passwords
    hasher = PasswordHasher(pw.memory_kib, pw.time_cost, pw.parallelism)
    with ctx.sessions()() as session:
        try:
            created = create_account(session, person, password, hasher, verified_by="operator")
        except AccountExists as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"account created: sub={created.subject}")


# --- audit ------------------------------------------------------------------------


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


# --- staff --------------------------------------------------------------------------


@main.group()
def staff() -> None:
    """Helpdesk staff accounts (the first admin is created here)."""


@staff.command("add")
@click.option("--username", required=True, help="Lower-case login name, e.g. nguyen.an.")
@click.option("--name", "full_name", required=True, help="Full name as shown in the audit log.")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["helpdesk", "registrar", "supervisor", "auditor", "admin"]),
              help="Repeat for several roles.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Prompted when not given.")
@click.option("--office", help="The one-stop desk the member works at (named in the evidence "
              "of counter registrations).")
@pass_context
def staff_add(ctx: Context, username: str, full_name: str, roles: tuple[str, ...],
              password: str, office: str | None) -> None:
    """Create a staff member; prints the TOTP secret once (for the authenticator app)."""
    from idp import create_app
    from idp.audit import record_event
    from idp.helpdesk.staff import StaffError, create_staff

    app = create_app(ctx.settings)
    with app.app_context():
        session = app.extensions["idp.provider"].db.session
        try:
            member, enrolment = create_staff(session, username, full_name, roles, password,
                                             office)
        except StaffError as exc:
            lines = "\n".join(f"  {field}: {message}" for field, message in exc.errors.items())
            raise click.ClickException("dữ liệu không hợp lệ:\n" + lines) from None
        record_event("staff.admin.create", "success", actor="operator:cli",
                     target=member.username, roles=list(member.roles))
    click.echo(f"staff member {member.username} created with roles {', '.join(member.roles)}")
    click.echo("TOTP secret (shown once; add it to the authenticator app now):")
    click.echo(f"  secret: {enrolment.secret}")
    click.echo(f"  uri:    {enrolment.uri}")
    click.echo("At the first login the member replaces this password and secret with their own.")


@staff.command("list")
@pass_context
def staff_list(ctx: Context) -> None:
    """Every staff member with roles and status (never a secret)."""
    from sqlalchemy import select

    from idp.store.models import StaffMember

    with ctx.sessions()() as session:
        for member in session.scalars(select(StaffMember).order_by(StaffMember.username)):
            last = f"{member.last_login_at:%Y-%m-%d %H:%M}" if member.last_login_at else "-"
            click.echo(f"{member.username:24} {member.status:9} {','.join(member.roles):32} "
                       f"last login {last}  {member.full_name}")


# --- serving ------------------------------------------------------------------------


@main.command("serve")
@click.option("--host")
@click.option("--port", type=int)
@click.option("--workers", type=int)
@click.option("--threads", type=int)
@pass_context
def serve(ctx: Context, host, port, workers, threads) -> None:
    """Run the provider under gunicorn (workers and threads from config)."""
    from idp.serve import run

    server = ctx.settings.server
    run(ctx.settings, host or server.host, port or server.port, workers or server.workers,
        threads or server.threads)


@main.command("demo")
@click.option("--port", type=int, default=5000, show_default=True,
              help="Provider port; the portals use the next two.")
@click.option("--dir", "directory", default="var/demo", show_default=True)
def demo(port: int, directory: str) -> None:
    """Set up and start the provider and two demo portals on 127.0.0.1."""
    from idp.demo import run_demo

    sys.exit(run_demo(directory, port))


if __name__ == "__main__":
    main()
