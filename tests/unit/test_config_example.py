"""config.example.toml documents every key and loads once secrets are supplied."""

from __future__ import annotations

import tomllib
from pathlib import Path

from idp.config import Settings, load_settings
from idp.limits import LIMITS

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
SECRETS = {"server": {"secret_key": "s" * 40, "pairwise_salt": "q" * 20},
           "keys": {"passphrase": "p" * 20}}


def test_example_documents_every_key():
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for name, field in Settings.model_fields.items():
        if name in ("base_dir", "limits"):
            continue
        documented = set(data.get(name, {}))
        assert documented == set(field.annotation.model_fields), name


def test_example_documents_every_key_of_the_connector_sections():
    # Each section's keys are its connector's own model (connectors/), not idp's.
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for name, section in load_settings(EXAMPLE, **SECRETS).connectors.items():
        assert set(data[name]) == set(type(section).model_fields), name


def test_example_lists_every_limit_with_its_default():
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert data["limits"] == {name: limit.default for name, limit in LIMITS.items()}


def test_example_loads_with_secrets_from_environment(monkeypatch):
    monkeypatch.setenv("IDP_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("IDP_KEY_PASSPHRASE", "p" * 20)
    monkeypatch.setenv("IDP_PAIRWISE_SALT", "q" * 20)
    settings = load_settings(EXAMPLE)
    assert settings.server.issuer == "http://127.0.0.1:5000"
    assert settings.passwords.memory_kib == 19456
