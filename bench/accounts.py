#!/usr/bin/env python
"""CCCD lookup with N synthetic accounts in PostgreSQL (DESIGN §8, issues #6 and #19).

Creates a fresh database on 127.0.0.1:5432 with the provider's schema, fills `accounts`
with N synthetic citizens by COPY (valid-looking, unique CCCDs; one argon2id hash computed
once and reused, since hashing is not what is measured), encrypted at rest as the provider
stores them (CCCD, name and birth date as AES-GCM envelopes, the CCCD's blind index, with
the provider's own functions and keys), ANALYZEs, then times the lookup the password login
does (idp/login/password.py: `select(Account).where(Account.cccd_is(cccd))` through the
ORM: HMAC of the CCCD, index probe, decryption of the row) for random existing CCCDs, the
bare indexed SELECT on the blind index, and the encryption's own share (the HMAC, and the
decryption of one account's personal fields), p50/p99. Drops the database afterwards
(unless --keep).

    .venv/bin/python bench/accounts.py --count 10000
    .venv/bin/python bench/accounts.py --count 1000000 --output bench/results/accounts-1m.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/

ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Province / city codes of the CCCD (first three digits), a sample of the 63.
PROVINCES = [1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33,
             34, 35, 36, 37, 38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64,
             66, 67, 68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94,
             95, 96]
COLUMNS = ("subject", "cccd", "cccd_index", "full_name", "birthdate", "gender", "email_verified",
           "password_hash", "account_type", "ial", "verified_by", "status", "created_at",
           "password_changed_at")
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng"]
SETTINGS = {"server": {"secret_key": "bench-secret-key-0123456789abcdefghij",
                       "pairwise_salt": "bench-pairwise-salt"},
            "keys": {"passphrase": "bench-key-passphrase"},
            "data": {"kek": "YmVuY2ggZGF0YSBrZXktZW5jcnlwdGlvbiBrZXkgMzI="}}
"""What binding the personal-data keys needs: a fixed KEK (a bench, not a provider)."""
GIVEN = ["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Khánh", "Linh", "Minh", "Nam", "Thảo"]


def log(message: str) -> None:
    print(f"[accounts {time.strftime('%H:%M:%S')}] {message}", flush=True)


def cccd(i: int) -> tuple[str, int, str]:
    """The i-th synthetic CCCD (unique for i < 12.6 billion), its birth year and gender:
    province (3) + century/gender (1) + birth year (2) + a 6-digit serial, the serial being
    a permutation of i so that neighbours do not look alike."""
    serial = (i * 7919 + 12345) % 1_000_000
    rest = i // 1_000_000
    year = 1950 + rest % 50 if rest < 50 else 1950 + rest % 100
    female = (rest // 100) % 2 if rest >= 100 else i % 2
    province = PROVINCES[(rest // 200) % len(PROVINCES)] if rest >= 200 else PROVINCES[i % 63]
    century = (2 if year >= 2000 else 0) + female
    return f"{province:03d}{century}{year % 100:02d}{serial:06d}", year, "female" if female \
        else "male"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="synthetic accounts")
    parser.add_argument("--lookups", type=int, default=10_000, help="timed random look-ups")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--output", type=Path, help="write the figures as JSON")
    args = parser.parse_args(argv)

    import argon2
    import psycopg
    from sqlalchemy import create_engine, select, text
    from sqlalchemy.orm import Session

    from idp.config import load_settings
    from idp.store import data_keys
    from idp.store.encrypted import blind_index, decrypt, encrypt
    from idp.store.models import Account, Base

    name = f"idp_accounts_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    engine = create_engine(url)
    figures: dict = {"count": args.count, "database": name}
    try:
        Base.metadata.create_all(engine)  # the models = the migrations (tests check the drift)
        ring = data_keys.bind(engine, load_settings(None, **SETTINGS))
        hashed = argon2.PasswordHasher(memory_cost=19456, time_cost=2, parallelism=1,
                                       type=argon2.Type.ID).hash("Lua-Thu#Ha-Noi-2024")
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        log(f"database {name}: filling {args.count:,} accounts by COPY ...")
        t0 = time.monotonic()
        chunk = 50_000
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as conn:
            with conn.cursor() as cur:
                with cur.copy(f"COPY accounts ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for start in range(0, args.count, chunk):
                        lines = []
                        for i in range(start, min(args.count, start + chunk)):
                            number, year, gender = cccd(i)
                            full = f"{FAMILY[i % 10]} Văn {GIVEN[i % 11]}"
                            born = f"{year}-{1 + i % 12:02d}-{1 + i % 28:02d}"
                            lines.append(
                                f"{uuid.uuid4().hex}{i:011d}\t"
                                f"{encrypt(ring, 'accounts.cccd', number)}\t"
                                f"{blind_index(ring, 'cccd', number)}\t"
                                f"{encrypt(ring, 'accounts.full_name', full)}\t"
                                f"{encrypt(ring, 'accounts.birthdate', born)}\t{gender}\tf\t"
                                f"{hashed}\tcitizen\t2\tbench\tactive\t{now}\t{now}\n")
                        copy.write("".join(lines))
                        done = min(args.count, start + chunk)
                        if done % 1_000_000 == 0 or done == args.count:
                            elapsed = time.monotonic() - t0
                            log(f"  {done:,} rows in {elapsed:.0f} s "
                                f"({done / elapsed:,.0f} rows/s)")
            conn.commit()
            with conn.cursor() as cur:
                cur.execute("ANALYZE accounts")
                cur.execute("SELECT pg_total_relation_size('accounts'), "
                            "pg_relation_size('accounts')")
                total, heap = cur.fetchone()
        figures["fill_seconds"] = round(time.monotonic() - t0, 1)
        figures["table_bytes"], figures["heap_bytes"] = total, heap
        log(f"filled in {figures['fill_seconds']} s; table + indexes {total / 2**20:,.0f} MiB "
            f"(heap {heap / 2**20:,.0f} MiB)")

        rng = random.Random(6)  # noqa: S311 - not security relevant
        targets = [cccd(rng.randrange(args.count))[0] for _ in range(args.lookups)]
        with engine.connect() as connection:
            plan = "\n".join(connection.execute(text(
                "EXPLAIN SELECT * FROM accounts WHERE cccd_index = :c"),
                {"c": blind_index(ring, "cccd", targets[0])}).scalars())
        figures["plan"] = plan
        log("plan: " + plan.replace("\n", " | "))

        def timed(run) -> dict:
            times = []
            for number in targets:
                t = time.perf_counter()
                if run(number) is None:
                    raise RuntimeError(f"{number} not found")
                times.append(time.perf_counter() - t)
            ordered = sorted(times)
            return {"p50_ms": round(statistics.median(ordered) * 1000, 3),
                    "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 3),
                    "max_ms": round(ordered[-1] * 1000, 3)}

        with Session(engine) as session:
            def orm(number):
                found = session.scalar(select(Account).where(Account.cccd_is(number)))
                session.expunge_all()
                return found

            timed(orm)  # warm the cache the same way a running provider has it warm
            figures["orm_lookup"] = timed(orm)
            ids = {number: session.scalar(select(Account.id).where(Account.cccd_is(number)))
                   for number in targets}

            def orm_by_id(number):
                found = session.scalar(select(Account).where(Account.id == ids[number]))
                session.expunge_all()
                return found

            # The same row read the same way by its primary key: what is left of the
            # difference is the blind index's share.
            figures["orm_lookup_by_id"] = timed(orm_by_id)
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as conn:
            def bare(number):
                return conn.execute("SELECT id FROM accounts WHERE cccd_index = %s",
                                    (blind_index(ring, "cccd", number),)).fetchone()

            figures["sql_lookup"] = timed(bare)
            stored = dict(zip(("cccd", "full_name", "birthdate"), conn.execute(
                "SELECT cccd, full_name, birthdate FROM accounts LIMIT 1").fetchone(),
                strict=True))
        figures["blind_index"] = timed(lambda number: blind_index(ring, "cccd", number))

        def decrypt_account(_number):
            return [decrypt(ring, f"accounts.{name}", value) for name, value in stored.items()]

        figures["decrypt_3_fields"] = timed(decrypt_account)
        log(f"{args.lookups:,} random CCCD look-ups among {args.count:,} accounts: login's "
            f"ORM query p50 {figures['orm_lookup']['p50_ms']} ms, p99 "
            f"{figures['orm_lookup']['p99_ms']} ms (the same row by primary key p50 "
            f"{figures['orm_lookup_by_id']['p50_ms']} ms); bare SELECT p50 "
            f"{figures['sql_lookup']['p50_ms']} ms, p99 {figures['sql_lookup']['p99_ms']} ms; "
            f"of which encryption: blind index p50 {figures['blind_index']['p50_ms']} ms, "
            f"decrypting CCCD + name + birth date p50 {figures['decrypt_3_fields']['p50_ms']} ms")
    finally:
        engine.dispose()
        if not args.keep:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            log(f"dropped {name}")
        admin.dispose()
    if args.output:
        figures["date"] = datetime.now(UTC).isoformat(timespec="seconds")
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
        log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
