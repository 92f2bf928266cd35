"""Loading settings: defaults, secrets from the environment, and clear refusals of bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from idp.cli import main
from idp.config import ConfigError, load_settings

SECRET = "s" * 40
SALT = "pairwise-salt-0123456789"
PASSPHRASE = "key-passphrase-0123456789"

VALID = f"""
[server]
issuer = "https://sso.example.gov.vn"
secret_key = "{SECRET}"
pairwise_salt = "{SALT}"

[keys]
passphrase = "{PASSPHRASE}"
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No secret or config path leaks in from the developer's shell."""
    for name in ("IDP_CONFIG", "IDP_SECRET_KEY", "IDP_KEY_PASSPHRASE", "IDP_PAIRWISE_SALT",
                 "IDP_DATA_KEK"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def env_secrets(monkeypatch):
    monkeypatch.setenv("IDP_SECRET_KEY", SECRET)
    monkeypatch.setenv("IDP_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("IDP_PAIRWISE_SALT", SALT)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "idp.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults and secrets ------------------------------------------------------------------


def test_defaults_with_secrets_from_the_environment(env_secrets):
    settings = load_settings(None)
    assert settings.server.secret_key == SECRET
    assert settings.server.pairwise_salt == SALT
    assert settings.keys.passphrase == PASSPHRASE
    # A few documented defaults.
    assert settings.server.issuer == "http://127.0.0.1:5000"
    assert settings.server.port == 5000
    assert settings.state.backend == "sql"
    assert settings.otp.ttl == 120
    assert settings.tokens.code_ttl == 60
    assert settings.login.captcha_after_failures == 3
    assert settings.limits == {}  # every limit at its default (idp/limits.py)
    assert settings.session.cookie_secure is True


def test_environment_secrets_override_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("IDP_SECRET_KEY", "e" * 40)
    settings = load_settings(write(tmp_path, VALID))
    assert settings.server.secret_key == "e" * 40
    assert settings.server.pairwise_salt == SALT  # from the file


def test_missing_secrets_are_refused_naming_each(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_settings(None)
    message = str(error.value)
    assert "server.secret_key" in message
    assert "server.pairwise_salt" in message
    assert "keys.passphrase" in message


def test_short_secret_is_refused(env_secrets, monkeypatch):
    monkeypatch.setenv("IDP_SECRET_KEY", "too-short")
    with pytest.raises(ConfigError, match="server.secret_key"):
        load_settings(None)


def test_valid_file_is_loaded_and_relative_paths_follow_the_file(tmp_path):
    path = write(tmp_path, VALID + '\n[database]\nurl = "sqlite:///var/idp.sqlite3"\n'
                 '[otp]\nttl = 60\n')
    settings = load_settings(path)
    assert settings.server.issuer == "https://sso.example.gov.vn"
    assert settings.otp.ttl == 60
    assert settings.base_dir == tmp_path.resolve()
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'var' / 'idp.sqlite3'}"


def test_config_path_from_the_environment(tmp_path, monkeypatch):
    path = write(tmp_path, VALID + "\n[otp]\nttl = 90\n")
    monkeypatch.setenv("IDP_CONFIG", str(path))
    assert load_settings().otp.ttl == 90


# --- refusals --------------------------------------------------------------------------


def test_misspelt_key_is_refused_naming_it(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, VALID + "\n[otp]\nttl_seconds = 60\n"))
    message = str(error.value)
    assert "otp.ttl_seconds" in message
    assert "unknown key" in message


def test_misspelt_section_is_refused_naming_it(tmp_path):
    with pytest.raises(ConfigError, match="sesion"):
        load_settings(write(tmp_path, VALID + "\n[sesion]\nlifetime = 60\n"))


@pytest.mark.parametrize(
    ("section", "line", "key"),
    [
        ("server", "port = 70000", "server.port"),
        ("state", 'backend = "mongo"', "state.backend"),
        ("otp", "ttl = 5", "otp.ttl"),
        ("otp", "ttl = 601", "otp.ttl"),
        ("tokens", "code_ttl = 120", "tokens.code_ttl"),
        ("login", "delay_after_failures = 0", "login.delay_after_failures"),
        ("passwords", "memory_kib = 1024", "passwords.memory_kib"),
        ("database", 'url = "mysql://db/idp"', "database.url"),
        ("otp", 'ttl = "two minutes"', "otp.ttl"),
        ("state", 'sentinels = ["10.0.0.5"]', "state.sentinels"),
        ("state", 'sentinels = ["10.0.0.5:99999"]', "state.sentinels"),
        ("logout", "backchannel_give_up_after = 0", "logout.backchannel_give_up_after"),
        ("logging", 'access_log = "sometimes"', "logging.access_log"),
    ],
)
def test_bad_value_is_refused_naming_the_key(tmp_path, section, line, key):
    # A second [server] table would be a TOML error, so put the bad line in its own section.
    text = VALID if section != "server" else VALID.replace("[server]\n", f"[server]\n{line}\n")
    if section != "server":
        text += f"\n[{section}]\n{line}\n"
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, text))
    message = str(error.value)
    assert message.startswith("invalid configuration")
    assert key in message


@pytest.mark.parametrize(
    "issuer",
    [
        "http://example.com",
        "sso.example.gov.vn",
        "https://sso.example.gov.vn/",
        "https://sso.example.gov.vn?x=1",
        "ftp://sso.example.gov.vn",
    ],
)
def test_bad_issuer_is_refused(tmp_path, issuer):
    text = VALID.replace('issuer = "https://sso.example.gov.vn"', f'issuer = "{issuer}"')
    with pytest.raises(ConfigError, match=r"server\.issuer"):
        load_settings(write(tmp_path, text))


@pytest.mark.parametrize("issuer", ["http://127.0.0.1:5000", "http://localhost:8080"])
def test_plain_http_issuer_allowed_on_loopback(tmp_path, issuer):
    text = VALID.replace('issuer = "https://sso.example.gov.vn"', f'issuer = "{issuer}"')
    assert load_settings(write(tmp_path, text)).server.issuer == issuer


def test_several_bad_keys_are_all_named(tmp_path):
    text = VALID.replace("[server]\n", "[server]\nport = 0\n") + "\n[otp]\nttl = 5\n"
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, text))
    assert "server.port" in str(error.value) and "otp.ttl" in str(error.value)


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="configuration file not found") as error:
        load_settings(missing)
    assert str(missing) in str(error.value)


def test_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(write(tmp_path, "[server\nport = 1\n"))


# --- the CLI ---------------------------------------------------------------------------


def test_cli_with_a_bad_config_exits_non_zero_naming_the_key(tmp_path):
    path = write(tmp_path, VALID.replace("[server]\n", "[server]\nport = 70000\n"))
    result = CliRunner().invoke(main, ["--config", str(path), "keys", "list"])
    assert result.exit_code != 0
    assert "server.port" in result.output
    assert "invalid configuration" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback


def test_cli_with_a_misspelt_key_exits_non_zero(tmp_path):
    path = write(tmp_path, VALID + "\n[state]\nbakend = \"redis\"\n")
    result = CliRunner().invoke(main, ["--config", str(path), "client", "list"])
    assert result.exit_code != 0
    assert "state.bakend" in result.output


def test_cli_with_a_missing_config_file(tmp_path):
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "none.toml"), "keys", "list"])
    assert result.exit_code != 0
    assert "configuration file not found" in result.output


def test_cli_help_needs_no_config():
    result = CliRunner().invoke(main, ["--config", "/nonexistent.toml", "--help"])
    assert result.exit_code == 0
    assert "client" in result.output


def test_limits_are_checked_by_name_and_rate(tmp_path):
    limits = '\n[limits]\n"sms.login.phone" = "8 per hour"\n"otp.wrong_codes" = "3 per login"\n'
    settings = load_settings(write(tmp_path, VALID + limits))
    assert settings.limits == {"sms.login.phone": "8 per hour",
                               "otp.wrong_codes": "3 per login"}
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, VALID + '\n[limits]\n"sms.login.phones" = "8 per hour"\n'))
    assert "sms.login.phones: no such limit" in str(error.value)
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, VALID + '\n[limits]\n"sms.login.phone" = "lots"\n'))
    assert "is not a rate" in str(error.value)


def test_keys_that_became_limits_say_where_they_went(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, VALID + "\n[otp]\nper_phone_per_hour = 3\n"))
    assert '[limits] "sms.login.phone"' in str(error.value)


def test_data_kek_is_32_bytes_of_base64_and_may_come_from_the_environment(tmp_path,
                                                                         monkeypatch):
    import base64

    path = tmp_path / "idp.toml"
    path.write_text(VALID + '[data]\nkek = "c2hvcnQ="\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"data\.kek: base64 of 32 bytes"):
        load_settings(path)
    kek = base64.b64encode(bytes(range(32))).decode()
    monkeypatch.setenv("IDP_DATA_KEK", kek)
    assert load_settings(path).data.kek == kek


def test_data_kek_in_the_hsm_needs_the_hsm(tmp_path):
    path = tmp_path / "idp.toml"
    path.write_text(VALID + '[data]\nkek_backend = "pkcs11"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="data.kek_backend"):
        load_settings(path)


def test_data_kek_from_a_file_as_openssl_writes_it(tmp_path):
    import base64

    from idp.store.data_keys import ConfiguredKek, configured_kek
    from idp.store.encrypted import DataKeyError

    secret = bytes(range(32))
    (tmp_path / "kek").write_text(base64.b64encode(secret).decode() + "\n", encoding="utf-8")
    path = tmp_path / "idp.toml"
    path.write_text(VALID + '[data]\nkek_file = "kek"\n', encoding="utf-8")
    assert configured_kek(load_settings(path)).name == ConfiguredKek(secret).name
    (tmp_path / "kek").unlink()
    with pytest.raises(DataKeyError, match="kek_file"):
        configured_kek(load_settings(path))
