"""Bringing every personal value under the active data key, in batches, while serving.

One pass encrypts the rows still in clear (written before encryption at rest, see
migration 0015) and re-encrypts the ones made under an older data key (after
`idp keys rotate-data-key`), filling the blind indexes on the way. Each batch commits on
its own, so a pass can be stopped and run again: it only rewrites rows that are not yet
under the active key. A row the application changed between the read and the write is
left to the next pass (the update names the old ciphertext), never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, column, func, select, table
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
    # One statement per batch, sent as a batch (executemany): a row is rewritten only if
    # none of its encrypted values changed since it was read.
    rewrite = raw.update().where(
        raw.c.id == bindparam("row_id"),
        *(raw.c[name].is_not_distinct_from(bindparam(f"old_{name}")) for name in spec.columns),
    ).values({name: bindparam(f"new_{name}") for name in (*spec.columns, *index_columns)})
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
            changes = [change for row in rows
                       if (change := _rewritten(ring, spec, row, active)) is not None]
            if changes:
                done = connection.execute(rewrite, changes).rowcount
                rewritten += done
                raced += len(changes) - done
        seen += len(rows)
        progress(f"{spec.name}: {seen}/{total} rows read, {rewritten} re-encrypted")
    return rewritten, raced


def _rewritten(ring: DataKeyRing, spec: EncryptedTable, row, active: int) -> dict | None:
    """The parameters rewriting a row not wholly under `active` (every value encrypted
    again, blind indexes computed), or None for a row that is."""
    def done(name: str) -> bool:
        stored = row[name]
        index = spec.indexes.get(name)
        return stored is None or (key_id_of(stored) == active
                                  and (index is None or row[index[0]] is not None))

    if all(done(name) for name in spec.columns):
        return None
    change = {"row_id": row["id"]}
    for name in spec.columns:
        stored = row[name]
        plain = stored if stored is None or key_id_of(stored) is None else decrypt(
            ring, f"{spec.name}.{name}", stored)
        change[f"old_{name}"] = stored
        change[f"new_{name}"] = None if plain is None else encrypt(
            ring, f"{spec.name}.{name}", plain)
        if name in spec.indexes:
            index, kind = spec.indexes[name]
            change[f"new_{index}"] = None if plain is None else blind_index(ring, kind, plain)
    return change
