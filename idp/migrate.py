"""Running the Alembic migrations against the configured database."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from idp.config import Settings
from migrations import LOCATION


def alembic_config(settings: Settings) -> Config:
    """An Alembic config pointing at our migrations and the configured database."""
    config = Config()
    config.set_main_option("script_location", str(LOCATION))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    # Alembic's config is an INI parser: a literal % must be doubled.
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the schema to `revision`."""
    command.upgrade(alembic_config(settings), revision)


def check(settings: Settings) -> None:
    """Fail when the models and the migrations have drifted apart."""
    command.check(alembic_config(settings))
