"""`idp client`: the portals (relying parties) and their keys."""

from __future__ import annotations

import json

import click

from idp.cli import Context, main, pass_context


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
