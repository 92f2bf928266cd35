"""Staff administration (admin role) and the `idp staff` command that creates the first admin."""

from __future__ import annotations

import re

from click.testing import CliRunner
from sqlalchemy import select

from idp.cli import main
from idp.store.models import StaffMember
from tests.helpdesk.conftest import STAFF_PASSWORD, Console, StaffUser, audit_rows


def member(provider, username: str) -> StaffMember:
    with provider.db.sessions() as session:
        return session.scalar(select(StaffMember).where(StaffMember.username == username))


def secret_in(html: str) -> str:
    return re.search(r'id="totp-secret">([A-Z2-7]+)<', html).group(1)


def test_admin_creates_a_member_who_can_log_in(app, console, provider):
    admin = console("admin")
    response = admin.post("/helpdesk/staff/new", username="Tran.Mot-Cua", full_name="Trần Một Cửa",
                          roles=["registrar", "helpdesk"], password=STAFF_PASSWORD,
                          confirm=STAFF_PASSWORD)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<svg" in html, html
    secret = secret_in(html)
    created = member(provider, "tran.mot-cua")
    assert created.roles == ["helpdesk", "registrar"] and created.status == "active"
    assert secret not in created.totp_secret and STAFF_PASSWORD not in created.password_hash
    # The secret is shown once: the member's page never shows it again.
    assert secret not in admin.get(f"/helpdesk/staff/{created.id}").get_data(as_text=True)
    first = Console(app, StaffUser(created.id, created.username, tuple(created.roles), secret))
    # The admin has seen both: the member replaces them before anything else.
    assert first.login(then="/helpdesk/credentials").replace_credentials().status_code == 303
    assert first.get("/helpdesk/").status_code == 200
    [row] = audit_rows(provider, "staff.admin.create")
    assert (row.actor, row.actor_role, row.detail["target"]) == (admin.user.actor, "admin",
                                                                 "tran.mot-cua")


def test_bad_member_data_is_refused(console, provider):
    admin = console("admin")
    response = admin.post("/helpdesk/staff/new", username="x", full_name="A", roles=["root"],
                          password="yeu", confirm="yeu")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    for text in ("Tên đăng nhập gồm", "Họ và tên phải dài", "vai trò hợp lệ", "ít nhất 8 ký tự"):
        assert text in html
    duplicate = admin.post("/helpdesk/staff/new", username=admin.user.username,
                           full_name="Trùng Tên", roles=["helpdesk"], password=STAFF_PASSWORD,
                           confirm=STAFF_PASSWORD)
    assert duplicate.status_code == 400 and "đã được dùng" in duplicate.get_data(as_text=True)
    assert audit_rows(provider, "staff.admin.create") == []


def test_roles_status_and_new_totp(app, console, provider, make_staff):
    admin = console("admin")
    user = make_staff("helpdesk")
    page = Console(app, user).login()
    assert admin.post(f"/helpdesk/staff/{user.id}/roles",
                      roles=["supervisor"]).status_code == 303
    assert member(provider, user.username).roles == ["supervisor"]
    # The new roles apply to the open session at once.
    assert page.get("/helpdesk/complaints").status_code == 200
    assert page.get(f"/helpdesk/resets/{999}").status_code == 404
    [row] = audit_rows(provider, "staff.admin.roles")
    assert (row.detail["before"], row.detail["after"]) == (["helpdesk"], ["supervisor"])

    response = admin.post(f"/helpdesk/staff/{user.id}/totp")
    new_secret = secret_in(response.get_data(as_text=True))
    old = Console(app, user)
    old.start()
    assert old.totp().status_code == 401  # the old authenticator no longer works
    user.secret = new_secret
    again = Console(app, user).login(then="/helpdesk/credentials")  # the admin saw it too
    assert again.replace_credentials().status_code == 303
    assert member(provider, user.username).must_replace_credentials is False

    assert admin.post(f"/helpdesk/staff/{user.id}/status", active="0").status_code == 303
    assert member(provider, user.username).status == "disabled"
    assert admin.post(f"/helpdesk/staff/{user.id}/status", active="1").status_code == 303
    events = [r.event for r in audit_rows(provider) if r.event.startswith("staff.admin.")]
    assert events == ["staff.admin.roles", "staff.admin.reset_totp", "staff.admin.disable",
                      "staff.admin.enable"]


def test_admin_cannot_change_themself(console, provider):
    admin = console("admin")
    response = admin.post(f"/helpdesk/staff/{admin.user.id}/roles", roles=["auditor"])
    assert response.status_code == 400 and "chính mình" in response.get_data(as_text=True)
    assert admin.post(f"/helpdesk/staff/{admin.user.id}/status", active="0").status_code == 400
    assert member(provider, admin.user.username).roles == ["admin"]


def test_cli_creates_the_first_admin(app, provider, settings, tmp_path):
    config = tmp_path / "cli.toml"
    config.write_text(
        f'[server]\nsecret_key = "{"s" * 40}"\npairwise_salt = "{"p" * 20}"\n'
        f'[keys]\npassphrase = "{settings.keys.passphrase}"\n'
        f'[data]\nkek = "{settings.data.kek}"\n'
        f'[database]\nurl = "{settings.database_url}"\n'
        "[passwords]\nmemory_kib = 8192\ntime_cost = 1\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(config), "staff", "add", "--username",
                                  "quan.tri", "--name", "Phạm Quản Trị", "--role", "admin"],
                           input=f"{STAFF_PASSWORD}\n{STAFF_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    secret = re.search(r"secret: ([A-Z2-7]+)", result.output).group(1)
    assert "otpauth://totp/" in result.output
    listing = runner.invoke(main, ["--config", str(config), "staff", "list"])
    assert "quan.tri" in listing.output and "admin" in listing.output
    assert secret not in listing.output
    created = member(provider, "quan.tri")
    admin = Console(app, StaffUser(created.id, "quan.tri", ("admin",), secret)).login(
        then="/helpdesk/credentials")  # the operator saw the password and the secret
    assert admin.get("/helpdesk/staff").headers["Location"].endswith("/helpdesk/credentials")
    assert admin.replace_credentials().status_code == 303
    assert admin.get("/helpdesk/staff").status_code == 200
    [row] = audit_rows(provider, "staff.admin.create")
    assert row.actor == "operator:cli" and row.detail["target"] == "quan.tri"

    weak = runner.invoke(main, ["--config", str(config), "staff", "add", "--username", "b.c",
                                "--name", "Bùi Cường", "--role", "auditor"],
                         input="yeu\nyeu\n")
    assert weak.exit_code != 0 and "password" in weak.output
