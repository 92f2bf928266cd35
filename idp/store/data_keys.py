"""Keys that encrypt personal data at rest (Decree 13/2023): data keys, wrapped by a KEK.

A data key (AES-256) encrypts column values; the blind-index key (HMAC-SHA256) makes the
exact-match lookups. Both are random and stored in `data_keys` wrapped (AES key wrap,
RFC 3394) by the key-encryption key (KEK), which never enters the database: it comes from
the configuration ([data] kek, a file, or derived from keys.passphrase) or stays inside
the HSM. The newest active data key encrypts; every key is kept, so every row stays
readable while `idp keys rotate-data-key` re-encrypts rows under a new one.

Each engine carries its own ring (`bind`), unwrapped once and reloaded when another node
rotated: a value costs one AES-GCM operation, never a KEK or database round trip.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from sqlalchemy import inspect, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.store.encrypted import DataKeyError, register
from idp.store.models import DataKey

if TYPE_CHECKING:
    from idp.config import Settings

log = logging.getLogger(__name__)

DATA = "data"
INDEX = "index"
ACTIVE = "active"
RETIRED = "retired"


class Kek(Protocol):
    """A key-encryption key: wraps and unwraps 32-byte data keys, never shows itself."""

    name: str
    """Which KEK this is (stored beside each wrapped key, to name a wrong KEK clearly)."""

    def wrap(self, key: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes) -> bytes: ...


class ConfiguredKek:
    """A KEK held in the configuration (or a file): AES key wrap in this process."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise ValueError("the data KEK is 32 bytes")
        self._secret = secret
        fingerprint = hmac.new(secret, b"idp data kek id", hashlib.sha256).hexdigest()[:16]
        self.name = f"config:{fingerprint}"

    def wrap(self, key: bytes) -> bytes:
        return aes_key_wrap(self._secret, key)

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return aes_key_unwrap(self._secret, wrapped)
        except InvalidUnwrap as exc:
            raise DataKeyError("a data key does not unwrap with this KEK") from exc


def configured_kek(settings: Settings) -> Kek:
    """The KEK the settings name: the HSM's, the configured one, or one derived from
    keys.passphrase (logged as a warning: one secret then guards both keys and data)."""
    data = settings.data
    if data.kek_backend == "pkcs11":
        from keys.pkcs11 import Pkcs11Kek

        return Pkcs11Kek(settings.keys.pkcs11_module, settings.keys.pkcs11_token,
                         settings.keys.pkcs11_pin, data.pkcs11_kek_label)
    if data.kek:
        return ConfiguredKek(base64.b64decode(data.kek))
    if data.kek_file:
        path = settings.path(data.kek_file)
        try:
            return ConfiguredKek(base64.b64decode(path.read_bytes().strip(), validate=True))
        except (OSError, ValueError) as exc:
            raise DataKeyError(f"[data] kek_file {path}: {exc}") from None
    log.warning("[data] kek is not set: the personal-data KEK is derived from "
                "keys.passphrase; set a separate KEK or use the HSM in production")
    return ConfiguredKek(HKDF(hashes.SHA256(), 32, salt=None, info=b"idp data kek v1")
                         .derive(settings.keys.passphrase.encode()))


@dataclass(frozen=True)
class _Loaded:
    data: dict[int, AESGCM]
    active: int
    index: bytes


class DataKeyRing:
    """The data keys of one database, unwrapped; reloaded when a rotation is seen."""

    def __init__(self, engine: Engine, kek: Kek, reload_seconds: int = 30) -> None:
        self._engine = engine
        self._kek = kek
        self._reload_seconds = reload_seconds
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self._unwrapped: dict[str, bytes] = {}
        self._next_reload = 0.0

    def encryption_key(self) -> tuple[int, AESGCM]:
        """(id, cipher) of the active data key."""
        loaded = self._current()
        return loaded.active, loaded.data[loaded.active]

    def decryption_key(self, key_id: int) -> AESGCM:
        """The data key `key_id`; a key unknown here was made by another node: reload."""
        cipher = self._current().data.get(key_id)
        if cipher is None:
            cipher = self.reload().data.get(key_id)
        if cipher is None:
            raise DataKeyError(f"data key {key_id} is not in data_keys")
        return cipher

    def index_key(self) -> bytes:
        return self._current().index

    def reload(self, *, unless_fresh: bool = False) -> _Loaded:
        """Read the keys again (after a rotation); creates the first ones on a new database.

        `unless_fresh`: not when another thread has just done it.
        """
        with self._lock:
            if unless_fresh and self._loaded and time.monotonic() <= self._next_reload:
                return self._loaded
            try:
                self._loaded = self._read()
            except IntegrityError:  # another node made the index key first: use its
                self._loaded = self._read()
            self._next_reload = time.monotonic() + self._reload_seconds
            return self._loaded

    def _read(self) -> _Loaded:
        with Session(self._engine) as session, session.begin():
            rows = list(session.scalars(select(DataKey).order_by(DataKey.id)))
            if not any(row.purpose == DATA and row.state == ACTIVE for row in rows) or \
                    not any(row.purpose == INDEX for row in rows):
                rows = _create_first_keys(session, self._kek, rows)
            return self._unwrap(rows)

    def _current(self) -> _Loaded:
        loaded = self._loaded
        if loaded is None or time.monotonic() > self._next_reload:
            loaded = self.reload(unless_fresh=True)
        return loaded

    def _unwrap(self, rows: list[DataKey]) -> _Loaded:
        data: dict[int, AESGCM] = {}
        active = index = None
        for row in rows:
            if row.kek != self._kek.name:
                raise DataKeyError(f"data key {row.id} is wrapped by KEK {row.kek}, "
                                   f"the configured KEK is {self._kek.name}")
            # Keys unwrapped before are kept: an HSM is asked only about new ones.
            key = self._unwrapped.get(row.wrapped)
            if key is None:
                key = self._unwrapped[row.wrapped] = self._kek.unwrap(
                    base64.b64decode(row.wrapped))
            if row.purpose == INDEX:
                index = key
            else:
                data[row.id] = AESGCM(key)
                if row.state == ACTIVE:
                    active = row.id  # the newest active one (rows come in id order)
        if active is None or index is None:
            raise DataKeyError("data_keys holds no active data key")
        return _Loaded(data, active, index)


def _create_first_keys(session: Session, kek: Kek, rows: list[DataKey]) -> list[DataKey]:
    for purpose in (DATA, INDEX):
        if not any(row.purpose == purpose for row in rows):
            session.add(new_key(kek, purpose))
    session.flush()
    return list(session.scalars(select(DataKey).order_by(DataKey.id)))


def new_key(kek: Kek, purpose: str = DATA) -> DataKey:
    """A fresh random key for `purpose`, wrapped by `kek`, active."""
    wrapped = base64.b64encode(kek.wrap(os.urandom(32))).decode()
    return DataKey(purpose=purpose, wrapped=wrapped, kek=kek.name, state=ACTIVE)


def add_data_key(session: Session, kek: Kek) -> DataKey:
    """Make a new active data key; the earlier ones retire (they still decrypt)."""
    key = new_key(kek)
    session.execute(update(DataKey).where(DataKey.purpose == DATA, DataKey.state == ACTIVE)
                    .values(state=RETIRED))
    session.add(key)
    session.flush()
    return key


def rewrap(session: Session, old: Kek, new: Kek) -> int:
    """Wrap every key wrapped by `old` with `new` instead; returns how many. The keys
    themselves do not change, so no row is rewritten."""
    rows = list(session.scalars(select(DataKey).where(DataKey.kek == old.name)))
    for row in rows:
        row.wrapped = base64.b64encode(new.wrap(old.unwrap(base64.b64decode(row.wrapped)))
                                       ).decode()
        row.kek = new.name
    session.flush()
    return len(rows)


def bind(engine: Engine, settings: Settings) -> DataKeyRing:
    """Give `engine` the data keys of its database: its encrypted columns then work.

    Loads them at once when the schema exists (so a new database gets its first keys
    outside any other transaction), otherwise on first use.
    """
    ring = DataKeyRing(engine, configured_kek(settings), settings.keys.reload_seconds)
    register(engine.dialect, ring)
    if inspect(engine).has_table(DataKey.__tablename__):
        ring.reload()
    return ring

