"""Signing keys inside a PKCS#11 token (SoftHSM 2): JWKS, signing, rotation, a login end to end.

SoftHSM reads SOFTHSM2_CONF when its library is initialised, and a process
initialises it once; the `hsm` fixture points it at a token directory of its
own and re-initialises the library, so no system-wide token is touched. Over 400 lines:
every test shares that one initialised token, which a second module would have to set up
again.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pkcs11
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from pkcs11 import Attribute, ObjectClass
from pkcs11.exceptions import AttributeSensitive
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from idp.config import ConfigError, Settings, load_settings
from idp.migrate import upgrade
from idp.store.models import SigningKey
from keys import make_backends
from keys.base import ALGORITHMS, CURRENT, NEXT, RETIRED, KeyBackend, SigningKeyError
from keys.pkcs11 import Pkcs11KeyBackend
from keys.ring import KeyRing
from keys.rotation import ensure_keys, rotate
from keys.software import SoftwareKeyBackend
from tests.clock import Clock
from tests.conftest import make_settings

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN = "idp-signing"
SPARE_TOKEN = "idp-spare"
PIN = "246810"
SO_PIN = "13579135"
RELOAD_SECONDS = 30
TOKEN_TTL = 600
LABEL = re.compile(r"idp-(rs256|es256)-[0-9a-f]{32}")
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
SECRETS = {
    "server": {"secret_key": "s" * 40, "pairwise_salt": "q" * 20},
    "keys": {"passphrase": "p" * 20},
}


@pytest.fixture(scope="module")
def hsm(tmp_path_factory) -> Iterator[None]:
    """Two freshly initialised SoftHSM tokens, in a directory of their own."""
    if shutil.which("softhsm2-util") is None or not Path(MODULE).exists():
        pytest.skip("SoftHSM 2 is not installed (scripts/bootstrap.sh --softhsm installs it)")
    directory = tmp_path_factory.mktemp("softhsm")
    (directory / "tokens").mkdir()
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {directory / 'tokens'}\n"
        "objectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        for label in (TOKEN, SPARE_TOKEN):
            subprocess.run(
                [
                    "softhsm2-util",
                    "--init-token",
                    "--free",
                    "--label",
                    label,
                    "--pin",
                    PIN,
                    "--so-pin",
                    SO_PIN,
                ],
                check=True,
                capture_output=True,
                timeout=30,
            )
        # Whoever loaded the library earlier in this process did so with another
        # configuration; initialising it again makes it read ours.
        library = pkcs11.lib(MODULE)
        library.reinitialize()
        yield
        library.finalize()


@pytest.fixture(scope="module")
def hsm_backend(hsm) -> Pkcs11KeyBackend:
    return Pkcs11KeyBackend(MODULE, TOKEN, PIN)


@pytest.fixture(scope="module")
def software() -> SoftwareKeyBackend:
    return SoftwareKeyBackend("correct horse battery staple")


def make_ring(sessions, clock: Clock, *backends: KeyBackend) -> KeyRing:
    return KeyRing(
        sessions,
        {b.name: b for b in backends},
        RELOAD_SECONDS,
        monotonic=clock.monotonic,
        now=clock.now,
    )


def sign_and_verify(ring: KeyRing, alg: str) -> dict:
    """Sign as idp/oidc/signed_tokens.py does; verify against the published JWKS only."""
    kid, key = ring.signing_key(alg)
    claims = {"sub": "abc", "n": 1}
    token = jwt.encode({"alg": alg, "kid": kid, "typ": "JWT"}, claims, key, algorithms=[alg])
    jwks = KeySet.import_key_set(json.loads(ring.jwks_json()))
    decoded = jwt.decode(token, jwks, algorithms=[alg])
    assert decoded.claims == claims
    return decoded.header


def rows(sessions) -> list[SigningKey]:
    with sessions() as session:
        return list(session.scalars(select(SigningKey)))


def state_of(sessions, alg: str) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for row in rows(sessions):
        if row.alg == alg:
            result.setdefault(row.state, set()).add(row.backend)
    return result


def token_objects(label: str) -> tuple[dict, dict]:
    """(private, public) attributes of the key pair `label`, read straight off the token.

    The backend's session logged this process in, and PKCS#11 login is per
    process, so this session without a PIN sees the private key too.
    """
    session = pkcs11.lib(MODULE).get_token(token_label=TOKEN).open()
    try:
        private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
        public = session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label)
        flags = (
            Attribute.SENSITIVE,
            Attribute.EXTRACTABLE,
            Attribute.ALWAYS_SENSITIVE,
            Attribute.NEVER_EXTRACTABLE,
            Attribute.SIGN,
            Attribute.DECRYPT,
            Attribute.TOKEN,
            Attribute.PRIVATE,
        )
        secret = Attribute.PRIVATE_EXPONENT if label.startswith("idp-rs256") else Attribute.VALUE
        with pytest.raises(AttributeSensitive):
            private[secret]
        return {a: private[a] for a in flags}, {Attribute.VERIFY: public[Attribute.VERIFY]}
    finally:
        session.close()


# --- the backend on its own ---------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_generated_key_stays_inside_the_token(hsm_backend, alg):
    label, public_jwk = hsm_backend.generate(alg)

    assert LABEL.fullmatch(label) and label.startswith(f"idp-{alg.lower()}-")
    assert public_jwk["alg"] == alg and public_jwk["use"] == "sig"
    assert not PRIVATE_MEMBERS & set(public_jwk)
    private, public = token_objects(label)
    assert private == {
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.ALWAYS_SENSITIVE: True,
        Attribute.NEVER_EXTRACTABLE: True,
        Attribute.SIGN: True,
        Attribute.DECRYPT: False,
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
    }
    assert public == {Attribute.VERIFY: True}

    key = hsm_backend.load_private(label, alg)
    assert key.is_private and key.kid == public_jwk["kid"] == key.thumbprint()
    assert key.as_dict(private=True) == public_jwk  # nothing private to export


def test_unknown_label_wrong_pin_and_missing_token_are_clear(hsm, hsm_backend):
    with pytest.raises(SigningKeyError, match="NoSuchKey"):
        hsm_backend.load_private("idp-rs256-" + "0" * 32, "RS256")
    label, _ = hsm_backend.generate("ES256")
    with pytest.raises(SigningKeyError, match="NoSuchKey"):
        hsm_backend.load_private(label, "RS256")  # an EC key is not an RSA key
    with pytest.raises(SigningKeyError, match="wrong keys.pkcs11_pin"):
        Pkcs11KeyBackend(MODULE, SPARE_TOKEN, "000000").generate("ES256")
    with pytest.raises(SigningKeyError, match="NoSuchToken"):
        Pkcs11KeyBackend(MODULE, "no-such-token", PIN).generate("ES256")


# --- through ensure_keys, rotation and the key ring ----------------------------------------


def test_ensure_keys_publishes_hsm_keys_that_sign(sessions, clock, hsm_backend):
    with sessions.begin() as session:
        ensure_keys(session, hsm_backend, now=clock.now())
    ring = make_ring(sessions, clock, hsm_backend)

    stored = rows(sessions)
    assert len(stored) == 4 and {row.backend for row in stored} == {"pkcs11"}
    for row in stored:
        # The column holds a label and nothing else: no PEM, no key material.
        assert LABEL.fullmatch(row.private_key), row.private_key
        assert not PRIVATE_MEMBERS & set(row.public_jwk)
    published = json.loads(ring.jwks_json())["keys"]
    assert {key["kid"] for key in published} == {row.kid for row in stored}
    for alg in ALGORITHMS:
        header = sign_and_verify(ring, alg)
        current = next(r for r in stored if r.alg == alg and r.state == CURRENT)
        assert header["kid"] == current.kid


def test_rotation_works_as_with_software_keys(sessions, clock, hsm_backend):
    with sessions.begin() as session:
        ensure_keys(session, hsm_backend, now=clock.now())
    ring = make_ring(sessions, clock, hsm_backend)
    before = {(r.alg, r.state): r.kid for r in rows(sessions)}

    with sessions.begin() as session:
        rotate(session, hsm_backend, max_token_ttl=TOKEN_TTL, now=clock.now())
    clock.advance(RELOAD_SECONDS)
    after = {(r.alg, r.state): r.kid for r in rows(sessions)}
    for alg in ALGORITHMS:
        assert after[(alg, CURRENT)] == before[(alg, NEXT)]
        assert after[(alg, RETIRED)] == before[(alg, CURRENT)]
        assert after[(alg, NEXT)] not in before.values()
        assert sign_and_verify(ring, alg)["kid"] == after[(alg, CURRENT)]
    published = {key["kid"] for key in json.loads(ring.jwks_json())["keys"]}
    assert published == set(after.values())  # the retired keys are still published

    clock.advance(TOKEN_TTL)
    with sessions.begin() as session:
        rotate(session, hsm_backend, max_token_ttl=TOKEN_TTL, now=clock.now())
    ring.maybe_reload()
    published = {key["kid"] for key in json.loads(ring.jwks_json())["keys"]}
    for alg in ALGORITHMS:
        assert before[(alg, CURRENT)] not in published
        assert after[(alg, CURRENT)] in published  # retired now, published until its time
        sign_and_verify(ring, alg)


def test_purged_keys_are_deleted_from_the_token(sessions, clock, hsm_backend):
    """A retired key past its unpublish time leaves the database and the HSM."""
    with sessions.begin() as session:
        ensure_keys(session, hsm_backend, now=clock.now())
    first = {r.kid: r.private_key for r in rows(sessions) if r.state == CURRENT}
    for _ in range(2):  # the first rotation retires them, the second purges them
        with sessions.begin() as session:
            rotate(session, hsm_backend, max_token_ttl=TOKEN_TTL, now=clock.now())
        clock.advance(TOKEN_TTL + 1)
    assert not set(first) & {r.kid for r in rows(sessions)}
    for label in first.values():
        with pytest.raises(pkcs11.NoSuchKey):
            token_objects(label)
    for row in rows(sessions):  # every key still in the database is still on the token
        assert token_objects(row.private_key)[0][Attribute.SENSITIVE]


def test_mixed_ring_moves_from_software_to_hsm_keys(sessions, clock, software, hsm_backend):
    with sessions.begin() as session:
        ensure_keys(session, software, now=clock.now())
    ring = make_ring(sessions, clock, software, hsm_backend)

    with sessions.begin() as session:
        rotate(session, hsm_backend, max_token_ttl=TOKEN_TTL, now=clock.now())
    clock.advance(RELOAD_SECONDS)
    for alg in ALGORITHMS:
        assert state_of(sessions, alg) == {
            CURRENT: {"software"},
            NEXT: {"pkcs11"},
            RETIRED: {"software"},
        }
        sign_and_verify(ring, alg)

    with sessions.begin() as session:
        rotate(session, hsm_backend, max_token_ttl=TOKEN_TTL, now=clock.now())
    clock.advance(RELOAD_SECONDS)
    for alg in ALGORITHMS:
        assert state_of(sessions, alg)[CURRENT] == {"pkcs11"}
        sign_and_verify(ring, alg)


def test_label_of_another_key_pair_is_refused(sessions, clock, hsm_backend):
    with sessions.begin() as session:
        ensure_keys(session, hsm_backend, algs=["RS256"], now=clock.now())
        labels = {r.state: r.private_key for r in session.scalars(select(SigningKey))}
        session.execute(
            update(SigningKey).where(SigningKey.state == CURRENT).values(private_key=labels[NEXT])
        )
    ring = make_ring(sessions, clock, hsm_backend)
    with pytest.raises(SigningKeyError, match="private and public parts differ"):
        ring.signing_key("RS256")


def test_threads_share_the_session(sessions, clock, hsm_backend):
    with sessions.begin() as session:
        ensure_keys(session, hsm_backend, now=clock.now())
    ring = make_ring(sessions, clock, hsm_backend)

    with ThreadPoolExecutor(max_workers=8) as pool:
        headers = list(pool.map(lambda i: sign_and_verify(ring, ALGORITHMS[i % 2]), range(64)))
    assert {h["alg"] for h in headers} == set(ALGORITHMS)


def test_signing_survives_the_token_restarting(sessions, clock, hsm_backend):
    with sessions.begin() as session:
        ensure_keys(session, hsm_backend, now=clock.now())
    ring = make_ring(sessions, clock, hsm_backend)
    for alg in ALGORITHMS:
        sign_and_verify(ring, alg)

    # Like an HSM restart: every session and the login are gone.
    pkcs11.lib(MODULE).reinitialize()
    for alg in ALGORITHMS:
        sign_and_verify(ring, alg)


# --- configuration ------------------------------------------------------------------------


@pytest.fixture
def clean_environment(monkeypatch):
    for name in (
        "IDP_CONFIG",
        "IDP_SECRET_KEY",
        "IDP_KEY_PASSPHRASE",
        "IDP_PAIRWISE_SALT",
        "IDP_PKCS11_PIN",
    ):
        monkeypatch.delenv(name, raising=False)


def settings_with(**keys) -> Settings:
    return load_settings(None, server=SECRETS["server"], keys={**SECRETS["keys"], **keys})


def test_hsm_settings_are_checked_without_echoing_the_pin(clean_environment, monkeypatch):
    assert settings_with().keys.backend == "software"
    assert set(make_backends(settings_with().keys)) == {"software"}
    with pytest.raises(ConfigError, match="keys.pkcs11_module"):
        settings_with(backend="pkcs11")
    with pytest.raises(ConfigError) as refused:
        settings_with(backend="pkcs11", pkcs11_module=MODULE, pkcs11_pin="secret-pin-9876")
    assert "keys.pkcs11_token" in str(refused.value) and "secret-pin" not in str(refused.value)
    with pytest.raises(ConfigError, match="IDP_PKCS11_PIN"):
        settings_with(pkcs11_module=MODULE, pkcs11_token=TOKEN)

    monkeypatch.setenv("IDP_PKCS11_PIN", "from-the-environment")
    settings = settings_with(
        backend="pkcs11", pkcs11_module=MODULE, pkcs11_token=TOKEN, pkcs11_pin="from-file"
    )
    assert settings.keys.pkcs11_pin == "from-the-environment"
    # Nothing touches the token until a key is made or loaded.
    assert set(make_backends(settings.keys)) == {"software", "pkcs11"}


# --- the provider signing with HSM keys ------------------------------------------------------


@pytest.fixture
def settings(hsm, tmp_path) -> Settings:
    """A fresh provider database whose keys `ensure_keys` made inside the token."""
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'idp.sqlite3'}",
        "sql",
        keys={
            "backend": "pkcs11",
            "pkcs11_module": MODULE,
            "pkcs11_token": TOKEN,
            "pkcs11_pin": PIN,
        },
    )
    upgrade(settings)
    engine = create_engine(settings.database_url)
    with Session(engine) as session:
        ensure_keys(session, make_backends(settings.keys)[settings.keys.backend])
        session.commit()
    engine.dispose()
    return settings


def test_id_token_from_a_login_verifies_against_the_jwks(flow, make_account, browser, settings):
    _, person = make_account()
    auth = flow.login(person)
    tokens = flow.exchange(auth).get_json()
    jwks_document = browser.get("/jwks").get_json()
    jwks = KeySet.import_key_set(jwks_document)

    id_token = jwt.decode(tokens["id_token"], jwks, algorithms=["RS256"])
    access = jwt.decode(tokens["access_token"], jwks, algorithms=["ES256"])
    assert id_token.claims["aud"] == flow.portal.client_id
    assert id_token.claims["nonce"] == auth.nonce
    assert access.header["typ"] == "at+jwt"

    engine = create_engine(settings.database_url)
    with Session(engine) as session:
        stored = list(session.scalars(select(SigningKey)))
    engine.dispose()
    assert {row.backend for row in stored} == {"pkcs11"}
    assert all(LABEL.fullmatch(row.private_key) for row in stored)
    assert {key["kid"] for key in jwks_document["keys"]} == {row.kid for row in stored}
    current = {row.alg: row.kid for row in stored if row.state == CURRENT}
    assert id_token.header["kid"] == current["RS256"]
    assert access.header["kid"] == current["ES256"]


# --- the key-encryption key of personal data on the token -------------------------------------


def test_personal_data_keys_are_wrapped_by_a_kek_that_stays_on_the_token(hsm, tmp_path):
    from idp.store import data_keys
    from idp.store.encrypted import DataKeyError
    from idp.store.models import Account, DataKey

    hsm_keys = {"pkcs11_module": MODULE, "pkcs11_token": TOKEN, "pkcs11_pin": PIN}
    url = f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    settings = make_settings(tmp_path, url, "sql", keys=hsm_keys,
                             data={"kek_backend": "pkcs11", "pkcs11_kek_label": "test-kek"})
    upgrade(settings)
    engine = create_engine(url)
    data_keys.bind(engine, settings)
    with Session(engine) as session, session.begin():
        session.add(Account(subject="hsm-sub", cccd="001085000777", full_name="Lê Thị Hòa",
                            verified_by="operator"))
    engine.dispose()

    other = create_engine(url)  # another node: unwraps the data keys through the token
    data_keys.bind(other, settings)
    with Session(other) as session:
        account = session.scalar(select(Account).where(Account.cccd_is("001085000777")))
        assert account.full_name == "Lê Thị Hòa"
        assert {row.kek for row in session.scalars(select(DataKey))} == {"pkcs11:test-kek"}
    other.dispose()

    session = pkcs11.lib(MODULE).get_token(token_label=TOKEN).open()
    try:
        kek = session.get_key(object_class=ObjectClass.SECRET_KEY, label="test-kek")
        assert kek[Attribute.SENSITIVE] and not kek[Attribute.EXTRACTABLE]
        with pytest.raises(AttributeSensitive):
            kek[Attribute.VALUE]
    finally:
        session.close()

    software = make_settings(tmp_path, url, "sql")  # the configured KEK is not the token's
    engine = create_engine(url)
    with pytest.raises(DataKeyError, match="pkcs11:test-kek"):
        data_keys.bind(engine, software)
    # Out of the HSM again: the data keys re-wrapped under the configured KEK.
    with Session(engine) as session, session.begin():
        moved = data_keys.rewrap(session, data_keys.configured_kek(settings),
                                 data_keys.configured_kek(software))
    assert moved == 2
    data_keys.bind(engine, software)
    with Session(engine) as session:
        assert session.scalar(select(Account.full_name)) == "Lê Thị Hòa"
    engine.dispose()
