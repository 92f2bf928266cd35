"""The `idp` command: serve, database, keys, clients, accounts, tokens, QR-code shares, audit,
back-channel logout, staff, demo."""

from __future__ import annotations

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


# Each module adds its commands to `main` when imported.
from idp.cli import database, housekeeping, people, portals, running  # noqa: E402, F401
