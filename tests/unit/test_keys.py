"""Signing keys: encryption at rest, rotation with pre-publication, and the worker key ring."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from joserfc import jwt
from joserfc.jwk import Key, KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.store.models import Base, SigningKey
from keys import software
from keys.base import CURRENT, NEXT, RETIRED, KeyPassphraseError, SigningKeyError
from keys.ring import KeyRing
from keys.rotation import KeyChange, ensure_keys, list_keys, rotate, withdraw
from keys.software import SoftwareKeyBackend
from tests.clock import Clock

PASSPHRASE = "correct horse battery staple"
RELOAD_SECONDS = 30
TOKEN_TTL = 600
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


class CountingBackend(SoftwareKeyBackend):
    """The software backend, counting how often a private key is decrypted."""

    def __init__(self, passphrase: str) -> None:
        super().__init__(passphrase)
        self.loads = 0

    def load_private(self, stored_private: str, alg: str) -> Key:
        self.loads += 1
        return super().load_private(stored_private, alg)


@pytest.fixture(scope="module")
def backend() -> SoftwareKeyBackend:
    return SoftwareKeyBackend(PASSPHRASE)


def make_ring(
    sessions: sessionmaker[Session], backend: SoftwareKeyBackend, clock: Clock
) -> KeyRing:
    backends = {backend.name: backend}
    return KeyRing(sessions, backends, RELOAD_SECONDS, monotonic=clock.monotonic, now=clock.now)


def initialise(sessions: sessionmaker[Session], backend: SoftwareKeyBackend, clock: Clock) -> None:
    with sessions.begin() as session:
        ensure_keys(session, backend, now=clock.now())


def rotate_all(
    sessions: sessionmaker[Session], backend: SoftwareKeyBackend, clock: Clock, **kwargs
) -> list[KeyChange]:
    with sessions.begin() as session:
        return rotate(session, backend, max_token_ttl=TOKEN_TTL, now=clock.now(), **kwargs)


def kids_by_state(sessions: sessionmaker[Session], alg: str) -> dict[str, list[str]]:
    with sessions() as session:
        result: dict[str, list[str]] = {}
        for info in list_keys(session):
            if info.alg == alg:
                result.setdefault(info.state, []).append(info.kid)
        return result


def published_kids(ring: KeyRing) -> set[str]:
    return {key["kid"] for key in json.loads(ring.jwks_json())["keys"]}


def test_ensure_keys_creates_current_and_next_once(sessions, backend, clock):
    with sessions.begin() as session:
        first = ensure_keys(session, backend, now=clock.now())
    with sessions.begin() as session:
        second = ensure_keys(session, backend, now=clock.now())

    assert sorted((c.alg, c.before, c.after) for c in first) == [
        (alg, None, state) for alg in ("ES256", "RS256") for state in (CURRENT, NEXT)
    ]
    assert second == []
    with sessions() as session:
        infos = list_keys(session)
    # Listed by algorithm, then life stage: next, current, retired.
    assert [(i.alg, i.state) for i in infos] == [
        (alg, state) for alg in ("ES256", "RS256") for state in (NEXT, CURRENT)
    ]
    assert all(i.backend == "software" for i in infos)
    assert all((i.activated_at is not None) == (i.state == CURRENT) for i in infos)


def test_next_key_is_published_before_it_signs(sessions, backend, clock):
    initialise(sessions, backend, clock)
    ring = make_ring(sessions, backend, clock)

    for alg in ("RS256", "ES256"):
        states = kids_by_state(sessions, alg)
        kid, _key = ring.signing_key(alg)
        assert kid == states[CURRENT][0]
        assert states[NEXT][0] in published_kids(ring)
        assert states[NEXT][0] != kid


def test_rotation_signs_with_previous_next_and_keeps_old_key_published(sessions, backend, clock):
    initialise(sessions, backend, clock)
    before = kids_by_state(sessions, "RS256")

    changes = rotate_all(sessions, backend, clock, algs=("RS256",))

    assert [(c.kid, c.before, c.after) for c in changes[:2]] == [
        (before[CURRENT][0], CURRENT, RETIRED),
        (before[NEXT][0], NEXT, CURRENT),
    ]
    assert (changes[2].before, changes[2].after) == (None, NEXT)
    ring = make_ring(sessions, backend, clock)
    assert ring.signing_key("RS256")[0] == before[NEXT][0]
    assert before[CURRENT][0] in published_kids(ring)
    with sessions() as session:
        retired = session.get(SigningKey, before[CURRENT][0])
        assert retired.state == RETIRED
        assert retired.unpublish_at - retired.retired_at == timedelta(seconds=TOKEN_TTL)


def test_retired_key_leaves_jwks_at_unpublish_time_and_is_deleted_later(sessions, backend, clock):
    initialise(sessions, backend, clock)
    old = kids_by_state(sessions, "ES256")[CURRENT][0]
    rotate_all(sessions, backend, clock, algs=("ES256",))
    ring = make_ring(sessions, backend, clock)

    clock.advance(TOKEN_TTL - 1)
    ring.maybe_reload()
    assert old in published_kids(ring)

    clock.advance(1)
    assert old not in published_kids(make_ring(sessions, backend, clock))
    clock.advance(RELOAD_SECONDS)
    assert ring.maybe_reload() is True
    assert old not in published_kids(ring)

    changes = rotate_all(sessions, backend, clock, algs=("ES256",))
    assert KeyChange(old, "ES256", RETIRED, None) in changes
    with sessions() as session:
        assert session.get(SigningKey, old) is None


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_token_signed_by_ring_verifies_against_published_jwks(sessions, backend, clock, alg):
    initialise(sessions, backend, clock)
    ring = make_ring(sessions, backend, clock)
    claims = {"iss": "https://sso.example.gov.vn", "sub": "abc", "aud": "portal"}

    kid, key = ring.signing_key(alg)
    token = jwt.encode({"alg": alg, "kid": kid}, claims, key)
    published = KeySet.import_key_set(json.loads(ring.jwks_json()))

    decoded = jwt.decode(token, published, algorithms=[alg])
    assert decoded.header["kid"] == kid
    assert decoded.claims == claims

    # A token signed before a rotation still verifies until its key is unpublished.
    rotate_all(sessions, backend, clock)
    clock.advance(RELOAD_SECONDS)
    assert ring.maybe_reload() is True
    assert ring.signing_key(alg)[0] != kid
    assert jwt.decode(token, ring.verification_keys(), algorithms=[alg]).claims == claims


def test_private_keys_are_encrypted_at_rest(sessions, backend, clock):
    initialise(sessions, backend, clock)
    with sessions() as session:
        rows = session.scalars(select(SigningKey)).all()

    assert rows
    for row in rows:
        assert row.private_key.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert PRIVATE_MEMBERS.isdisjoint(row.public_jwk)


def test_wrong_passphrase_fails_clearly(sessions, backend, clock):
    initialise(sessions, backend, clock)
    with sessions() as session:
        row = session.scalars(select(SigningKey).where(SigningKey.alg == "RS256")).first()
    wrong = SoftwareKeyBackend("not the right passphrase")

    with pytest.raises(KeyPassphraseError, match="passphrase"):
        wrong.load_private(row.private_key, "RS256")
    with pytest.raises(KeyPassphraseError):
        make_ring(sessions, wrong, clock).signing_key("RS256")


def test_jwks_never_contains_private_members(sessions, backend, clock):
    initialise(sessions, backend, clock)
    rotate_all(sessions, backend, clock)
    ring = make_ring(sessions, backend, clock)

    keys = json.loads(ring.jwks_json())["keys"]
    assert len(keys) == 6  # retired, current and next for both algorithms
    for key in keys:
        assert PRIVATE_MEMBERS.isdisjoint(key)
        assert key["use"] == "sig"
        assert key["kid"] and key["alg"] in ("RS256", "ES256")
    assert not any(key.is_private for key in ring.verification_keys())


def test_ring_reloads_rotation_made_elsewhere_after_reload_seconds(sessions, clock):
    backend = CountingBackend(PASSPHRASE)
    initialise(sessions, backend, clock)
    ring = make_ring(sessions, backend, clock)
    old_kid, _ = ring.signing_key("RS256")
    _, es_key = ring.signing_key("ES256")
    assert backend.loads == 2
    upcoming = kids_by_state(sessions, "RS256")[NEXT][0]

    rotate_all(sessions, backend, clock, algs=("RS256",))
    clock.advance(RELOAD_SECONDS - 1)
    assert ring.maybe_reload() is False
    assert ring.signing_key("RS256")[0] == old_kid

    clock.advance(1)
    assert ring.maybe_reload() is True
    assert ring.signing_key("RS256")[0] == upcoming
    # Only the newly current key was decrypted; the unchanged one was reused.
    assert backend.loads == 3
    assert ring.signing_key("ES256")[1] is es_key

    clock.advance(RELOAD_SECONDS)
    assert ring.maybe_reload() is False
    assert backend.loads == 3


def test_failed_reload_keeps_the_loaded_keys(sessions, backend, clock):
    initialise(sessions, backend, clock)
    ring = make_ring(sessions, backend, clock)
    kid, _ = ring.signing_key("RS256")
    document = ring.jwks_json()

    Base.metadata.drop_all(sessions.kw["bind"])
    clock.advance(RELOAD_SECONDS)

    assert ring.maybe_reload() is False
    assert ring.signing_key("RS256")[0] == kid
    assert ring.jwks_json() == document


def test_without_keys_rotate_and_ring_say_what_to_do(sessions, backend, clock):
    with sessions.begin() as session, pytest.raises(SigningKeyError, match="idp db upgrade"):
        rotate(session, backend, max_token_ttl=TOKEN_TTL)
    with sessions.begin() as session, pytest.raises(ValueError, match="max_token_ttl"):
        rotate(session, backend, max_token_ttl=0)
    with pytest.raises(SigningKeyError, match="idp db upgrade"):
        make_ring(sessions, backend, clock).signing_key("ES256")


def test_threads_share_one_first_load(sessions, clock):
    backend = CountingBackend(PASSPHRASE)
    initialise(sessions, backend, clock)
    ring = make_ring(sessions, backend, clock)

    with ThreadPoolExecutor(max_workers=8) as pool:
        kids = set(pool.map(lambda _: ring.signing_key("RS256")[0], range(32)))

    assert len(kids) == 1
    assert backend.loads == 2  # one RS256 and one ES256 key, however many threads asked


@pytest.mark.parametrize("state", [CURRENT, NEXT])
def test_a_withdrawn_key_leaves_the_jwks_at_once_and_signing_goes_on(sessions, backend, clock,
                                                                      state):
    initialise(sessions, backend, clock)
    before = kids_by_state(sessions, "ES256")
    compromised = before[state][0]
    with sessions.begin() as session:
        withdraw(session, backend, compromised, max_token_ttl=TOKEN_TTL, now=clock.now())

    after = kids_by_state(sessions, "ES256")
    ring = make_ring(sessions, backend, clock)
    assert compromised not in published_kids(ring)
    with sessions() as session:
        assert session.get(SigningKey, compromised) is None
    assert len(after[CURRENT]) == 1 and len(after[NEXT]) == 1
    assert ring.signing_key("ES256")[0] == (before[NEXT][0] if state == CURRENT
                                            else before[CURRENT][0])
    assert after[NEXT][0] in published_kids(ring)
    with pytest.raises(SigningKeyError, match="no signing key"), sessions.begin() as session:
        withdraw(session, backend, compromised, max_token_ttl=TOKEN_TTL, now=clock.now())


@pytest.mark.parametrize("how", ["rotate", "withdraw"])
def test_the_process_keeps_no_private_key_the_ring_stopped_signing_with(sessions, clock,
                                                                        monkeypatch, how):
    decrypted: list[str] = []

    def counting_decrypt(stored_private: str, alg: str, passphrase: bytes) -> Key:
        decrypted.append(stored_private)
        return real_decrypt(stored_private, alg, passphrase)

    real_decrypt = software._decrypt
    monkeypatch.setattr(software, "_decrypt", counting_decrypt)
    backend = SoftwareKeyBackend(PASSPHRASE)
    initialise(sessions, backend, clock)
    ring = make_ring(sessions, backend, clock)
    old_kid, _ = ring.signing_key("RS256")
    with sessions() as session:
        old_pem = session.get(SigningKey, old_kid).private_key
    # A second ring in the process (another app) reuses the decrypted key.
    assert make_ring(sessions, backend, clock).signing_key("RS256")[0] == old_kid
    assert decrypted.count(old_pem) == 1

    if how == "rotate":
        rotate_all(sessions, backend, clock, algs=("RS256",))
    else:
        with sessions.begin() as session:
            withdraw(session, backend, old_kid, max_token_ttl=TOKEN_TTL, now=clock.now())
    clock.advance(RELOAD_SECONDS)
    assert ring.maybe_reload() is True
    assert ring.signing_key("RS256")[0] != old_kid
    assert not [entry for entry in software._decrypted if entry[0] == old_pem]
    backend.load_private(old_pem, "RS256")  # only by decrypting it again
    assert decrypted.count(old_pem) == 2
