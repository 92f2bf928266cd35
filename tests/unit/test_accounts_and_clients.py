"""Creating accounts and registering portals: the services, then the `idp` CLI around them.

Over 400 lines: each service is followed by the CLI command that wraps it, so a reader
sees a rule and its command-line refusal together."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from idp.accounts import AccountExists, create_account, validate_new_account
from idp.cli import main
from idp.clients import CLIENTS_STAMP, ClientRegistration, InvalidClient, register_client
from idp.config import load_settings
from idp.security.passwords import PasswordHasher
from idp.store import data_keys
from idp.store.encrypted import DataKeyError
from idp.store.models import Account, Base, Client, OtpPhone, SigningKey
from idp.store.state import SqlStateStore
from tests.conftest import make_settings
from vnid.person import InvalidPerson

STRONG = "Lua-Thu#Ha-Noi-2024"
PERSON = {
    "cccd": "001085000123",
    "full_name": "Nguyễn Văn An",
    "birthdate": "15/03/1985",
    "gender": "nam",
    "phone": "0912 345 678",
    "email": "An@Example.VN",
}


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(memory_kib=8192, time_cost=1)


@pytest.fixture
def session(tmp_path):
    url = f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    data_keys.bind(engine, make_settings(tmp_path, url, "sql"))
    with sessionmaker(engine, expire_on_commit=False)() as db:
        yield db
    engine.dispose()


# --- accounts --------------------------------------------------------------------------


def test_valid_account_is_normalised_and_stored(session, hasher):
    person = validate_new_account(PERSON, STRONG, 3)
    account = create_account(session, person, STRONG, hasher, verified_by="operator")
    stored = session.scalar(select(Account).where(Account.cccd_is("001085000123")))
    assert stored.id == account.id
    assert stored.gender == "male"
    assert stored.birthdate.isoformat() == "1985-03-15"
    assert stored.email == "An@example.vn"
    assert stored.status == "active" and stored.ial == 2 and stored.verified_by == "operator"
    assert [phone.phone for phone in stored.phones] == ["+84912345678"]
    assert stored.default_phone.is_default
    assert stored.password_hash.startswith("$argon2id$")
    assert hasher.verify(stored.password_hash, STRONG)
    assert stored.subject and "001085000123" not in stored.subject


def test_duplicate_cccd_is_refused(session, hasher):
    person = validate_new_account(PERSON, STRONG, 3)
    create_account(session, person, STRONG, hasher, verified_by="operator")
    again = validate_new_account({**PERSON, "phone": "0987654321"}, STRONG, 3)
    with pytest.raises(AccountExists, match="Số định danh này đã có tài khoản"):
        create_account(session, again, STRONG, hasher, verified_by="operator")
    assert session.scalar(select(Account.id).where(Account.cccd_is(PERSON["cccd"]))) is not None
    assert len(session.scalars(select(Account)).all()) == 1
    assert len(session.scalars(select(OtpPhone)).all()) == 1


def test_invalid_person_lists_every_error(hasher):
    raw = {"cccd": "12345", "full_name": "A1", "birthdate": "31/02/1990", "gender": "x",
           "phone": "0241234567", "email": "not-an-email"}
    with pytest.raises(InvalidPerson) as error:
        validate_new_account(raw, STRONG, 3)
    assert set(error.value.errors) == {"cccd", "full_name", "birthdate", "gender", "phone",
                                       "email"}
    # Messages are Vietnamese and never repeat the submitted value.
    assert "12 chữ số" in error.value.errors["cccd"]
    assert "0241234567" not in str(error.value)


def test_cccd_must_agree_with_birth_year_and_gender():
    with pytest.raises(InvalidPerson) as error:
        validate_new_account({**PERSON, "gender": "nữ"}, STRONG, 3)
    assert set(error.value.errors) == {"cccd"}


@pytest.mark.parametrize("password", [
    "password", "Abcdefg1", "Matkhau@001085000123", "0912345678-Abc!",
    "Nguyen-Van-An-1985",
])
def test_weak_password_is_refused(password):
    with pytest.raises(InvalidPerson) as error:
        validate_new_account(PERSON, password, 3)
    assert set(error.value.errors) == {"password"}
    assert "Mật khẩu" in error.value.errors["password"]


def test_bad_data_and_weak_password_are_reported_together():
    with pytest.raises(InvalidPerson) as error:
        validate_new_account({**PERSON, "phone": "12"}, "short", 3)
    assert set(error.value.errors) == {"phone", "password"}


# --- clients ---------------------------------------------------------------------------


def registration(**overrides) -> ClientRegistration:
    values = dict(
        client_id="portal-x",
        name="Cổng X",
        redirect_uris=["https://portal-x.gov.vn/callback"],
        post_logout_redirect_uris=["https://portal-x.gov.vn/"],
        backchannel_logout_uri=None,
        scopes=["openid", "profile"],
    )
    values.update(overrides)
    return ClientRegistration(**values)


def test_register_client_stores_a_hashed_secret(session):
    client, secret = register_client(session, registration())
    assert len(secret) >= 32
    stored = session.get(Client, "portal-x")
    assert stored.secret_digest != secret
    assert stored.check_secret(secret) and not stored.check_secret(secret + "x")
    assert stored.redirect_uris == ["https://portal-x.gov.vn/callback"]
    assert stored.sector_identifier is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"redirect_uris": ["http://portal-x.gov.vn/callback"]}, "https"),
        ({"redirect_uris": ["https://portal-x.gov.vn/cb#frag"]}, "fragment"),
        ({"redirect_uris": ["/callback"]}, "absolute"),
        ({"redirect_uris": []}, "redirect URI"),
        ({"post_logout_redirect_uris": ["http://portal-x.gov.vn/"]}, "post-logout"),
        ({"backchannel_logout_uri": "http://portal-x.gov.vn/bc"}, "back-channel"),
        ({"scopes": ["openid", "admin"]}, "unknown scopes: admin"),
        ({"scopes": ["profile", "email"]}, "openid"),
        ({"subject_type": "pairwise",
          "redirect_uris": ["https://a.gov.vn/cb", "https://b.gov.vn/cb"]}, "one host"),
        ({"subject_type": "secret"}, "subject type"),
        ({"id_token_alg": "HS256"}, "ID token algorithm"),
        ({"token_endpoint_auth_method": "none"}, "auth method"),
        ({"client_id": "a b"}, "client id"),
        ({"name": "  "}, "name"),
        ({"secret": "short"}, "at least 32"),
    ],
)
def test_register_client_refuses_bad_values(session, overrides, message):
    with pytest.raises(InvalidClient, match=message):
        register_client(session, registration(**overrides))
    assert session.get(Client, overrides.get("client_id", "portal-x")) is None


def test_loopback_http_and_pairwise_single_host_are_accepted(session):
    client, _ = register_client(session, registration(
        redirect_uris=["http://127.0.0.1:5001/cb", "http://127.0.0.1:5001/cb2"],
        subject_type="pairwise",
    ))
    assert client.sector_identifier == "127.0.0.1"


def test_duplicate_client_id_is_refused(session):
    register_client(session, registration())
    with pytest.raises(InvalidClient, match="already exists"):
        register_client(session, registration())


# --- the CLI ---------------------------------------------------------------------------


def _config_text(database: str) -> str:
    return f"""
[server]
issuer = "https://sso.test"
secret_key = "{'k' * 40}"
pairwise_salt = "cli-test-pairwise-salt"

[database]
url = "sqlite:///{database}"

[keys]
passphrase = "cli-test-key-passphrase"

[passwords]
memory_kib = 8192
time_cost = 1
"""


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """A database made by `idp db upgrade`, once for the module."""
    directory = tmp_path_factory.mktemp("cli-template")
    config = directory / "idp.toml"
    config.write_text(_config_text("idp.sqlite3"), encoding="utf-8")  # relative to the file
    result = CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "database is up to date" in result.output
    database = directory / "idp.sqlite3"
    # The CLI's engine keeps SQLite in WAL mode: fold the log into the file before copying it.
    connection = sqlite3.connect(database)
    try:
        busy, *_ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        connection.close()
    assert busy == 0
    return database


@pytest.fixture
def cli(tmp_path, migrated, monkeypatch):
    """Run `idp --config <a fresh copy of the migrated database>`."""
    for name in ("IDP_CONFIG", "IDP_SECRET_KEY", "IDP_KEY_PASSPHRASE", "IDP_PAIRWISE_SALT",
                 "IDP_DATA_KEK"):
        monkeypatch.delenv(name, raising=False)
    shutil.copy(migrated, tmp_path / "idp.sqlite3")
    config = tmp_path / "idp.toml"
    config.write_text(_config_text("idp.sqlite3"), encoding="utf-8")
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(main, ["--config", str(config), *args])
        if ok:
            assert result.exit_code == 0, result.output
        return result

    run.database = tmp_path / "idp.sqlite3"
    return run


def _db(path: Path) -> Session:
    engine = create_engine(f"sqlite:///{path}")
    data_keys.bind(engine, load_settings(path.parent / "idp.toml"))
    return Session(engine)


def test_db_upgrade_is_idempotent(cli):
    result = cli("db", "upgrade")
    assert "database is up to date" in result.output
    assert "new ->" not in result.output  # the keys already exist: none created


def test_client_add_list_show_remove(cli):
    added = cli("client", "add", "--client-id", "portal-cli", "--name", "Cổng thử",
                "--redirect-uri", "https://portal-cli.gov.vn/cb",
                "--post-logout-uri", "https://portal-cli.gov.vn/",
                "--scope", "openid profile", "--scope", "cccd",
                "--subject-type", "pairwise", "--id-token-alg", "ES256", "--json")
    body = json.loads(added.output)
    assert body["client_id"] == "portal-cli"
    assert len(body["client_secret"]) >= 32
    assert body["scopes"] == ["openid", "profile", "cccd"]
    assert body["subject_type"] == "pairwise"
    assert body["id_token_signed_response_alg"] == "ES256"
    with _db(cli.database) as db:
        assert db.get(Client, "portal-cli").check_secret(body["client_secret"])

    listed = json.loads(cli("client", "list", "--json").output)
    assert [row["client_id"] for row in listed] == ["portal-cli"]
    assert "client_secret" not in listed[0]
    assert listed[0]["name"] == "Cổng thử"

    shown = cli("client", "show", "portal-cli")
    assert "portal-cli" in shown.output
    assert body["client_secret"] not in shown.output
    shown_json = json.loads(cli("client", "show", "portal-cli", "--json").output)
    assert shown_json["redirect_uris"] == ["https://portal-cli.gov.vn/cb"]

    assert "removed" in cli("client", "remove", "portal-cli").output
    # Running providers are told to forget their cached registrations.
    stamp = SqlStateStore(create_engine(f"sqlite:///{cli.database}")).get(CLIENTS_STAMP)
    assert stamp is not None and stamp["v"]
    assert json.loads(cli("client", "list", "--json").output) == []
    missing = cli("client", "show", "portal-cli", ok=False)
    assert missing.exit_code != 0 and "no client 'portal-cli'" in missing.output
    assert cli("client", "remove", "portal-cli", ok=False).exit_code != 0


def test_client_add_with_a_bad_value_fails_cleanly(cli):
    result = cli("client", "add", "--client-id", "portal-bad", "--name", "X",
                 "--redirect-uri", "http://portal-bad.gov.vn/cb", ok=False)
    assert result.exit_code != 0
    assert "https" in result.output
    assert json.loads(cli("client", "list", "--json").output) == []


def test_client_add_given_secret(cli):
    secret = "s" * 40
    body = json.loads(cli("client", "add", "--client-id", "portal-s", "--name", "S",
                          "--redirect-uri", "https://s.gov.vn/cb", "--secret", secret,
                          "--auth-method", "client_secret_post", "--json").output)
    assert body["client_secret"] == secret
    assert body["token_endpoint_auth_method"] == "client_secret_post"


def test_account_add(cli):
    args = ["account", "add", "--cccd", "001085000123", "--name", "Nguyễn Văn An",
            "--birthdate", "15/03/1985", "--gender", "nam", "--phone", "0912345678",
            "--password", STRONG]
    result = cli(*args)
    assert "account created: sub=" in result.output
    with _db(cli.database) as db:
        account = db.scalar(select(Account).where(Account.cccd_is("001085000123")))
        assert account is not None and account.full_name == "Nguyễn Văn An"
        assert [phone.phone for phone in account.phones] == ["+84912345678"]
        assert PasswordHasher(8192, 1).verify(account.password_hash, STRONG)
        assert result.output.strip().endswith(account.subject)

    again = cli(*args, ok=False)
    assert again.exit_code != 0
    assert "Số định danh này đã có tài khoản" in again.output


def test_account_add_refuses_bad_data_listing_fields(cli):
    result = cli("account", "add", "--cccd", "999", "--name", "An", "--birthdate", "1985",
                 "--gender", "nam", "--phone", "0912345678", "--password", "weak", ok=False)
    assert result.exit_code != 0
    assert "dữ liệu không hợp lệ" in result.output
    for field in ("cccd", "birthdate", "password"):
        assert f"  {field}:" in result.output
    assert "weak" not in result.output
    with _db(cli.database) as db:
        assert db.scalars(select(Account)).all() == []


def test_operator_errors_are_one_line_not_a_traceback(cli, tmp_path):
    with _db(cli.database) as db:  # a database whose keys were never created
        db.execute(SigningKey.__table__.delete())
        db.commit()
    rotated = cli("keys", "rotate", ok=False)
    assert rotated.exit_code == 1
    assert "signing keys: no next" in rotated.output and "idp db upgrade" in rotated.output
    assert "Traceback" not in rotated.output

    unreachable = tmp_path / "unreachable.toml"
    unreachable.write_text(_config_text("idp.sqlite3").replace(
        'url = "sqlite:///idp.sqlite3"',
        'url = "postgresql+psycopg://nobody@127.0.0.1:9/none"'), encoding="utf-8")
    listed = CliRunner().invoke(main, ["--config", str(unreachable), "keys", "list"])
    assert listed.exit_code == 1
    assert "cannot use the database" in listed.output and "Traceback" not in listed.output


def test_keys_rotate_then_list(cli):
    before = json.loads(cli("keys", "list", "--json").output)
    assert sorted((k["alg"], k["state"]) for k in before) == [
        ("ES256", "current"), ("ES256", "next"), ("RS256", "current"), ("RS256", "next")]
    next_kids = {k["alg"]: k["kid"] for k in before if k["state"] == "next"}
    current_kids = {k["alg"]: k["kid"] for k in before if k["state"] == "current"}

    rotated = cli("keys", "rotate")
    assert "next -> current" in rotated.output and "current -> retired" in rotated.output

    after = json.loads(cli("keys", "list", "--json").output)
    assert sorted((k["alg"], k["state"]) for k in after) == [
        ("ES256", "current"), ("ES256", "next"), ("ES256", "retired"),
        ("RS256", "current"), ("RS256", "next"), ("RS256", "retired")]
    by_kid = {k["kid"]: k for k in after}
    for alg in ("ES256", "RS256"):
        assert by_kid[next_kids[alg]]["state"] == "current"
        assert by_kid[current_kids[alg]]["state"] == "retired"
        assert by_kid[current_kids[alg]]["unpublish_at"] is not None
    assert all("private" not in json.dumps(k) for k in after)
    text = cli("keys", "list").output
    assert "retired" in text and "published until" in text


def test_withdraw_takes_a_kid_that_starts_with_a_dash(cli):
    """A kid is a base64url thumbprint: one in 64 starts with "-", and the operator pastes
    it as `keys list` shows it."""
    cli("keys", "rotate")
    retired = next(k["kid"] for k in json.loads(cli("keys", "list", "--json").output)
                   if k["state"] == "retired")
    dashed = "-p" + retired[2:]
    with _db(cli.database) as db:
        db.execute(SigningKey.__table__.update().where(SigningKey.kid == retired)
                   .values(kid=dashed))
        db.commit()
    assert dashed in cli("keys", "withdraw", dashed, "--yes").output
    assert dashed not in cli("keys", "list").output


def test_key_commands_are_in_the_audit_trail_with_the_change_or_not_at_all(cli):
    from idp.audit import verify_chain
    from idp.store.models import AuditEvent

    cli("keys", "rotate")
    compromised = next(k["kid"] for k in json.loads(cli("keys", "list", "--json").output)
                       if k["state"] == "retired" and k["alg"] == "ES256")
    cli("keys", "withdraw", compromised, "--yes")
    cli("keys", "rotate-data-key")
    with _db(cli.database) as db:
        db.execute(SigningKey.__table__.delete())  # the next rotate fails: nothing to promote
        db.commit()
    assert cli("keys", "rotate", ok=False).exit_code == 1
    with _db(cli.database) as db:
        rows = db.scalars(select(AuditEvent).where(AuditEvent.event.like("keys.%"))
                          .order_by(AuditEvent.id)).all()
        assert [(r.event, r.result, r.actor) for r in rows] == [
            ("keys.rotate", "success", "operator:cli"),
            ("keys.withdraw", "success", "operator:cli"),
            ("keys.rotate_data_key", "success", "operator:cli")]
        assert any("next -> current" in change for change in rows[0].detail["changes"])
        assert rows[1].detail["kid"] == compromised
        assert verify_chain(db).broken_at is None


# --- high-assurance registrations: public keys, the fapi2 profile ---------------------------


def _keyed(**overrides) -> ClientRegistration:
    from tests.node_rp import client_key, public_jwks

    values = dict(client_id="bank", name="Ngân hàng", redirect_uris=["https://bank.vn/cb"],
                  post_logout_redirect_uris=[], backchannel_logout_uri=None,
                  scopes=["openid", "profile"], profile="fapi2",
                  token_endpoint_auth_method="private_key_jwt",
                  jwks=public_jwks(client_key("k1")))
    values.update(overrides)
    return ClientRegistration(**values)


def test_fapi2_client_has_keys_no_secret_and_es256_id_tokens(session):
    client, secret = register_client(session, _keyed())
    assert secret is None and client.secret_digest is None
    assert client.id_token_signed_response_alg == "ES256"
    assert client.is_fapi2 and client.pushed_requests_only and client.dpop_required
    assert not client.check_secret("")


@pytest.mark.parametrize("overrides, message", [
    ({"token_endpoint_auth_method": "client_secret_basic"}, "private_key_jwt"),
    ({"id_token_alg": "RS256"}, "ES256"),
    ({"jwks": None}, "public keys"),
    ({"secret": "s" * 40}, "no secret"),
    ({"jwks": {"keys": []}}, "at least one key"),
    ({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, "public keys"),
    ({"jwks_uri": "http://keys.bank.vn/jwks", "jwks": None}, "https"),
    ({"jwks_uri": "https://bank.vn/jwks"}, "not both"),
    ({"profile": "fapi3"}, "profile"),
])
def test_bad_high_assurance_registrations(session, overrides, message):
    with pytest.raises(InvalidClient, match=message):
        register_client(session, _keyed(**overrides))
    assert session.get(Client, "bank") is None


def test_key_sets_that_verify_nothing_we_accept_are_refused(session):
    from joserfc.jwk import ECKey, RSAKey

    private = ECKey.generate_key("P-256", {"kid": "a"}).as_dict(private=True)
    p384 = ECKey.generate_key("P-384", {"kid": "a"}).as_dict(private=False)
    small = RSAKey.generate_key(1024, {"kid": "a"}, auto_kid=False).as_dict(private=False)
    rs256 = RSAKey.generate_key(2048, {"kid": "a", "alg": "RS256"}).as_dict(private=False)
    twins = [ECKey.generate_key("P-256").as_dict(private=False) for _ in range(2)]
    for keys, message in (([private], "private key"), ([p384], "P-256"),
                          ([small], "2048"), ([rs256], "RS256"), (twins, "own 'kid'")):
        with pytest.raises(InvalidClient, match=message):
            register_client(session, _keyed(jwks={"keys": keys}))


def test_client_add_with_a_key_set(cli, tmp_path):
    from tests.node_rp import client_key, public_jwks

    jwks = tmp_path / "bank.jwks.json"
    jwks.write_text(json.dumps(public_jwks(client_key("bank-1"))))
    added = cli("client", "add", "--client-id", "bank", "--name", "Ngân hàng",
                "--redirect-uri", "https://bank.vn/cb", "--profile", "fapi2",
                "--jwks", str(jwks))
    assert "no secret" in added.output
    body = json.loads(cli("client", "show", "bank", "--json").output)
    assert body["profile"] == "fapi2" and body["token_endpoint_auth_method"] == "private_key_jwt"
    assert body["jwks"]["keys"][0]["kid"] == "bank-1"
    jwks.write_text("{not json")
    broken = cli("client", "add", "--client-id", "bank2", "--name", "B",
                 "--redirect-uri", "https://bank.vn/cb", "--profile", "fapi2",
                 "--jwks", str(jwks), ok=False)
    assert broken.exit_code == 1 and "--jwks: not JSON" in broken.output


def test_data_key_rotation_and_encryption_from_the_cli(cli):
    for n in range(3):
        cli("account", "add", "--cccd", f"00108500012{n}", "--name", "Nguyễn Văn An",
            "--birthdate", "15/03/1985", "--gender", "nam", "--phone", f"091234567{n}",
            "--password", STRONG)
    rotated = cli("keys", "rotate-data-key", "--batch", "2").output
    assert "new data key 3" in rotated  # keys 1 and 2: the first data key, the index key
    assert "accounts: 2/3 rows read" in rotated and "accounts: 3/3 rows read" in rotated
    assert "otp_phones: 3/3 rows read, 3 re-encrypted" in rotated
    again = cli("data", "encrypt").output
    assert "0 rows (re-)encrypted; every personal value is under data key 3" in again
    with _db(cli.database) as db:
        accounts = db.scalars(select(Account).order_by(Account.id)).all()
        assert [a.cccd for a in accounts] == [f"00108500012{n}" for n in range(3)]
        assert db.scalar(select(OtpPhone.account_id).where(
            OtpPhone.phone_is("+84912345672"))) == accounts[2].id


def test_data_keys_move_to_a_new_kek(cli, tmp_path):
    import base64

    cli("account", "add", "--cccd", "001085000123", "--name", "Nguyễn Văn An",
        "--birthdate", "15/03/1985", "--gender", "nam", "--phone", "0912345678",
        "--password", STRONG)
    old = tmp_path / "idp.toml"
    new = tmp_path / "new.toml"
    kek = base64.b64encode(bytes(range(32))).decode()
    new.write_text(old.read_text(encoding="utf-8") + f'\n[data]\nkek = "{kek}"\n',
                   encoding="utf-8")
    moved = CliRunner().invoke(main, ["--config", str(new), "keys", "rewrap-data-keys",
                                      "--from-config", str(old)])
    assert moved.exit_code == 0, moved.output
    assert "2 data keys moved from KEK config:" in moved.output
    engine = create_engine(f"sqlite:///{cli.database}")
    data_keys.bind(engine, load_settings(new))
    with Session(engine) as session:
        account = session.scalar(select(Account).where(Account.cccd_is("001085000123")))
        assert account.full_name == "Nguyễn Văn An"
    engine.dispose()
    with pytest.raises(DataKeyError, match="wrapped by KEK"):  # the old KEK opens nothing
        _db(cli.database)
