"""`idp tokens purge` deletes the refresh tokens of ended families, and only those."""

from __future__ import annotations

import time

from click.testing import CliRunner
from sqlalchemy import select

from idp.cli import main
from idp.oidc.grants import INSERT_REFRESH_TOKEN, digest
from idp.oidc.purge import MARGIN_SECONDS
from idp.store.models import RefreshToken


def _tokens(provider, account_id: int, client_id: str, family: str, count: int,
            expires_at: float, **columns) -> None:
    now = time.time()
    with provider.db.engine.begin() as connection:
        connection.execute(INSERT_REFRESH_TOKEN, [
            {"token_digest": digest(f"{family}-{n}"), "family_id": family,
             "client_id": client_id, "account_id": account_id, "scope": "openid",
             "sid": None, "auth_time": int(now), "acr": "loa:2", "amr": ["pwd", "otp"],
             "issued_at": now - 100, "expires_at": expires_at, "rotated_at": None,
             "revoked_at": None, **columns}
            for n in range(count)])


def test_purge_deletes_ended_families_in_batches_and_keeps_the_rest(
        app, provider, settings, make_account, make_portal, tmp_path):
    account_id, _ = make_account()
    portal = make_portal()
    now = time.time()
    _tokens(provider, account_id, portal.client_id, "ended", 250,
            now - MARGIN_SECONDS - 60, rotated_at=now - 90000)
    _tokens(provider, account_id, portal.client_id, "ended-revoked", 3,
            now - MARGIN_SECONDS - 60, revoked_at=now - 90000)
    # Ended a moment ago: kept for the margin. Rotated but alive: kept so that its reuse
    # still revokes the family.
    _tokens(provider, account_id, portal.client_id, "just-ended", 2, now - 60)
    _tokens(provider, account_id, portal.client_id, "alive-rotated", 4, now + 3600,
            rotated_at=now - 10)
    _tokens(provider, account_id, portal.client_id, "alive", 1, now + 3600)
    config = tmp_path / "cli.toml"
    config.write_text(
        f'[server]\nsecret_key = "{"s" * 40}"\npairwise_salt = "{"p" * 20}"\n'
        f'[keys]\npassphrase = "{"k" * 20}"\n[database]\nurl = "{settings.database_url}"\n'
    )

    result = CliRunner().invoke(main, ["--config", str(config), "tokens", "purge",
                                       "--batch", "100"])

    assert result.exit_code == 0, result.output
    assert "100 deleted so far" in result.output and "200 deleted so far" in result.output
    assert "done: 253 refresh token(s) deleted" in result.output
    with provider.db.sessions() as session:
        left = session.scalars(select(RefreshToken.family_id)).all()
    assert sorted(set(left)) == ["alive", "alive-rotated", "just-ended"] and len(left) == 7

    again = CliRunner().invoke(main, ["--config", str(config), "tokens", "purge"])
    assert again.exit_code == 0 and "done: 0 refresh token(s) deleted" in again.output


def test_purge_refuses_a_silly_batch(tmp_path):
    result = CliRunner().invoke(main, ["tokens", "purge", "--batch", "0"])
    assert result.exit_code == 2 and "--batch" in result.output
