"""Column types that keep personal data encrypted at rest, and its blind indexes.

`EncryptedText("accounts.cccd")` stores AES-256-GCM ciphertext in a versioned envelope,
``v1.<data key id>.<base64url(nonce | ciphertext | tag)>``, with the table and column as
associated data: a value copied into another column, or made under another key id, does
not decrypt. Model attributes keep their Python types (str, date).

An encrypted column cannot be searched, so each looked-up field has a `BlindIndex`
column beside it: HMAC-SHA256 of the normalised value under the database's index key.
Comparing that column with a plain value (`Account.cccd_index == cccd`) binds the HMAC,
so the lookup stays one B-tree probe; `blind_index` is the one place that computes it.
Comparing an encrypted column itself raises, rather than silently matching nothing.

The keys come from the ring bound to the engine (idp.store.data_keys.bind).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import weakref
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from idp.store.data_keys import DataKeyRing

VERSION = "v1"


class DataKeyError(Exception):
    """The personal-data keys cannot be used (wrong KEK, engine not bound, key missing)."""


_rings: weakref.WeakKeyDictionary[Dialect, DataKeyRing] = weakref.WeakKeyDictionary()


def register(dialect: Dialect, ring: DataKeyRing) -> None:
    """Make `ring` the keys of the engine whose dialect is `dialect`."""
    _rings[dialect] = ring


def ring_for(dialect: Dialect) -> DataKeyRing:
    """The ring bound to the engine of `dialect`."""
    ring = _rings.get(dialect)
    if ring is None:
        raise DataKeyError("this engine has no personal-data keys: call "
                           "idp.store.data_keys.bind(engine, settings) first")
    return ring


def _aad(column: str, key_id: int) -> bytes:
    return f"{VERSION}|{column}|{key_id}".encode()


def encrypt(ring: DataKeyRing, column: str, plain: str) -> str:
    """The envelope of `plain` for `column` ("table.column") under the active data key."""
    key_id, cipher = ring.encryption_key()
    nonce = os.urandom(12)
    sealed = cipher.encrypt(nonce, plain.encode(), _aad(column, key_id))
    return f"{VERSION}.{key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(ring: DataKeyRing, column: str, envelope: str) -> str:
    """The plain value of an envelope made by `encrypt` for the same column."""
    version, _, rest = envelope.partition(".")
    key_id, _, body = rest.partition(".")
    if version != VERSION or not key_id.isdigit():
        raise DataKeyError(f"{column} holds a value that is not encrypted "
                           "(run `idp data encrypt`)")
    raw = base64.urlsafe_b64decode(body)
    try:
        plain = ring.decryption_key(int(key_id)).decrypt(raw[:12], raw[12:],
                                                          _aad(column, int(key_id)))
    except DataKeyError:
        raise
    except Exception as exc:  # InvalidTag: another column's value, or altered bytes
        raise DataKeyError(f"{column}: an encrypted value does not authenticate") from exc
    return plain.decode()


def key_id_of(envelope: str) -> int | None:
    """The data key an envelope was made with (None for a value not encrypted)."""
    version, _, rest = envelope.partition(".")
    key_id = rest.partition(".")[0]
    return int(key_id) if version == VERSION and key_id.isdigit() else None


# How each looked-up kind of value is written before it is indexed, so that the same
# CCCD, phone or e-mail always gives the same index.
NORMALISE = {
    "cccd": str.strip,
    "phone": str.strip,
    "email": lambda value: value.strip().lower(),
}


def blind_index(ring: DataKeyRing, kind: str, value: str) -> str:
    """The blind index of `value` of `kind` (a key of NORMALISE): hex HMAC-SHA256."""
    message = f"{kind}:{NORMALISE[kind](value)}".encode()
    return hmac.new(ring.index_key(), message, hashlib.sha256).hexdigest()


_UNSEARCHABLE = {operators.eq, operators.ne, operators.in_op, operators.not_in_op,
                 operators.like_op, operators.ilike_op, operators.startswith_op,
                 operators.contains_op, operators.endswith_op}


class EncryptedText(TypeDecorator):
    """A str column stored encrypted; `column` ("table.column") is bound into each value."""

    impl = Text
    cache_ok = True

    class Comparator(TypeDecorator.Comparator):
        def operate(self, op, *other, **kwargs):
            if op in _UNSEARCHABLE and not (other and other[0] is None):
                raise DataKeyError("an encrypted column cannot be searched: "
                                   "compare its blind index column instead")
            return super().operate(op, *other, **kwargs)

    comparator_factory = Comparator

    def __init__(self, column: str) -> None:
        super().__init__()
        self.column = column

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return encrypt(ring_for(dialect), self.column, self.to_text(value))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return self.from_text(decrypt(ring_for(dialect), self.column, value))

    def to_text(self, value: Any) -> str:
        return value

    def from_text(self, text: str) -> Any:
        return text


class EncryptedDate(EncryptedText):
    """A date column stored encrypted (as its ISO form)."""

    cache_ok = True

    def to_text(self, value: date) -> str:
        return value.isoformat()

    def from_text(self, text: str) -> date:
        return date.fromisoformat(text)


class BlindIndex(TypeDecorator):
    """The blind index of a looked-up field: binding a plain value stores (or compares)
    its HMAC. Set it from the plain value; never read it back."""

    impl = String(64)
    cache_ok = True

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return blind_index(ring_for(dialect), self.kind, value)
