"""Migrations and models never drift, and every migration runs down and up again."""

from __future__ import annotations

from alembic import command

from idp.migrate import alembic_config, check, upgrade
from tests.conftest import make_settings


def test_upgrade_check_downgrade_upgrade(tmp_path):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'm.sqlite3'}", "sql")
    upgrade(settings)
    check(settings)  # raises when models and migrations disagree
    command.downgrade(alembic_config(settings), "base")
    upgrade(settings)
    check(settings)
