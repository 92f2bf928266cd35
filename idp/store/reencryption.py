"""Bringing every personal value under the active data key, in batches, while serving.

One pass encrypts the rows still in clear (written before encryption at rest, see
migration 0014) and re-encrypts the ones made under an older data key (after
`idp keys rotate-data-key`), filling the blind indexes on the way. Each batch commits on
its own, so a pass can be stopped and run again: it only rewrites rows that are not yet
under the active key. A row the application changed between the read and the write is
left to the next pass (the update names the old ciphertext), never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, column, func, select, table
from sqlalchemy.engine import Engine

from idp.store.data_keys import DataKeyRing
from idp.store.encrypted import (
    VERSION,
    BlindIndex,
    EncryptedText,
    blind_index,
    decrypt,
    encrypt,
    key_id_of,
)
from idp.store.models import Base

BATCH = 1000


@dataclass(frozen=True)
class EncryptedTable:
    """A table's encrypted columns and, for each looked-up one, its blind-index column."""

    name: str
    columns: tuple[str, ...]
    indexes: dict[str, tuple[str, str]]
    """encrypted column -> (its blind-index column, the index kind)."""


def encrypted_tables() -> list[EncryptedTable]:
    """Every table with encrypted columns, read from the models."""
    found = []
    for model_table in Base.metadata.sorted_tables:
        columns = tuple(c.name for c in model_table.columns if isinstance(c.type, EncryptedText))
        if not columns:
            continue
        indexes = {c.name.removesuffix("_index"): (c.name, c.type.kind)
                   for c in model_table.columns if isinstance(c.type, BlindIndex)}
        found.append(EncryptedTable(model_table.name, columns, indexes))
    return found


Progress = Callable[[str], None]


def accounts_in_clear(engine: Engine) -> bool:
    """Whether some account is still stored in clear (written before encryption at rest)."""
    accounts = table("accounts", column("id"), column("full_name"))
    with engine.connect() as connection:
        return connection.scalar(select(accounts.c.id).where(
            accounts.c.full_name.not_like(f"{VERSION}.%")).limit(1)) is not None


def reencrypt_all(engine: Engine, ring: DataKeyRing, progress: Progress,
                  batch: int = BATCH) -> int:
    """Put every table's personal values under the active key; return the rows rewritten.

    Passes repeat until no row was changed under it by the application meanwhile.
    """
    rewritten = 0
    for spec in encrypted_tables():
        while True:
            done, raced = _pass(engine, ring, spec, progress, batch)
            rewritten += done
            if not raced:
                break
            progress(f"{spec.name}: {raced} rows changed meanwhile, another pass")
    return rewritten


def _pass(engine: Engine, ring: DataKeyRing, spec: EncryptedTable, progress: Progress,
          batch: int) -> tuple[int, int]:
    index_columns = [index for index, _ in spec.indexes.values()]
    raw = table(spec.name, column("id"), *map(column, spec.columns), *map(column, index_columns))
    with engine.connect() as connection:
        total = connection.scalar(select(func.count()).select_from(raw))
    seen = rewritten = raced = 0
    last_id = None
    while True:
        with engine.begin() as connection:
            query = select(raw).order_by(raw.c.id).limit(batch)
            if last_id is not None:
                query = query.where(raw.c.id > last_id)
            rows = connection.execute(query).mappings().all()
            if not rows:
                break
            last_id = rows[-1]["id"]
            active, _ = ring.encryption_key()
            for row in rows:
                values = _rewritten(ring, spec, row, active)
                if not values:
                    continue
                unchanged = and_(raw.c.id == row["id"],
                                 *(raw.c[name] == row[name] for name in spec.columns
                                   if name in values))
                result = connection.execute(raw.update().where(unchanged).values(values))
                rewritten += result.rowcount
                raced += 1 - result.rowcount
        seen += len(rows)
        progress(f"{spec.name}: {seen}/{total} rows read, {rewritten} re-encrypted")
    return rewritten, raced


def _rewritten(ring: DataKeyRing, spec: EncryptedTable, row, active: int) -> dict[str, str]:
    """The new envelopes (and blind indexes) of a row not wholly under `active`."""
    values = {}
    for name in spec.columns:
        stored = row[name]
        if stored is None:
            continue
        key_id = key_id_of(stored)
        if key_id == active and not (name in spec.indexes and row[spec.indexes[name][0]] is None):
            continue
        plain = stored if key_id is None else decrypt(ring, f"{spec.name}.{name}", stored)
        values[name] = encrypt(ring, f"{spec.name}.{name}", plain)
        if name in spec.indexes:
            index, kind = spec.indexes[name]
            values[index] = blind_index(ring, kind, plain)
    return values
