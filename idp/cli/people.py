"""`idp account` and `idp staff`: accounts made by the operator, and helpdesk staff."""

from __future__ import annotations

import click

from idp.cli import Context, main, pass_context


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
