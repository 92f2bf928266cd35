"""Personal data encrypted at rest (issue 19): a dump holds no identity in clear, lookups go
through the blind index, rows written in clear are encrypted in batches, and a data-key
rotation leaves every account readable."""

from __future__ import annotations

import glob
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import column, create_engine, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from idp.store import data_keys
from idp.store.data_keys import add_data_key, configured_kek
from idp.store.encrypted import DataKeyError, key_id_of, ring_for
from idp.store.models import Account, Complaint, OtpPhone
from idp.store.reencryption import reencrypt_all
from tests.conftest import make_person

# Values found nowhere else in the fixtures, so that a match can only be a leak.
PERSON = make_person(731, cccd="001179000731", full_name="Trịnh Thị Bảo Mật",
                     birthdate="1979-11-23", gender="female", email="bao.mat.731@example.vn")
SECOND_PHONE = "+84987654321"


def _clear_values() -> dict[str, list[bytes]]:
    national = "0" + PERSON.phone.removeprefix("+84")
    return {
        "cccd": [PERSON.cccd.encode()],
        "name": [PERSON.full_name.encode(), "Bảo Mật".encode()],
        "birth date": [PERSON.birthdate.encode()],
        "phone": [PERSON.phone.encode(), national.encode(), SECOND_PHONE.encode()],
        "e-mail": [PERSON.email.encode()],
    }


def _leaks(dump: bytes) -> list[str]:
    return [what for what, needles in _clear_values().items()
            if any(needle in dump for needle in needles)]


@pytest.fixture
def citizen(app, provider, make_account):
    """The fixture citizen with a second phone and a complaint filed in their name."""
    account_id, person = make_account(PERSON, extra_phones=[SECOND_PHONE])
    with app.app_context():
        session = provider.db.session
        session.add(Complaint(cccd=person.cccd, full_name=person.full_name,
                              phone=person.phone, email=person.email,
                              description="Tôi không đăng ký tài khoản này"))
        session.commit()
    return account_id, person


def test_a_dump_holds_no_personal_data_in_clear(backend, citizen, flow, provider, tmp_path):
    flow.login(PERSON)  # a login leaves its traces too (audit, limits, sessions)
    engine = provider.db.engine
    if backend == "sqlite":
        database = Path(engine.url.database)
        with sqlite3.connect(database) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            lines = "\n".join(connection.iterdump()).encode()
        files = b"".join(Path(name).read_bytes() for name in glob.glob(f"{database}*"))
        dumps = {"iterdump": lines, "database files": files}
    else:
        dumps = {"SQL dump": _postgres_dump(engine)}
        if pg_dump := _pg_dump_binary():
            url = make_url(str(engine.url))
            dumps["pg_dump"] = subprocess.run(  # noqa: S603 - the server's own tool
                [pg_dump, "-h", url.host, "-p", str(url.port), "-U", url.username,
                 "--data-only", url.database], capture_output=True, check=True).stdout
    for name, dump in dumps.items():
        assert _leaks(dump) == [], f"{name} shows {_leaks(dump)} in clear"
    # The dump is not empty of the account: its encrypted envelopes are there.
    assert all(b"v1." in dump for dump in dumps.values())


def _postgres_dump(engine) -> bytes:
    """Every row of every table as text, the way a plain-SQL dump writes values."""
    with engine.connect() as connection:
        tables = connection.scalars(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).all()
        rows = [str(row) for name in tables
                for row in connection.execute(text(f'SELECT t::text FROM "{name}" t'))]  # noqa: S608
    return "\n".join(rows).encode()


def _pg_dump_binary() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))
    return found[-1] if found else shutil.which("pg_dump")


def test_lookups_go_through_the_blind_index(backend, citizen, flow, provider):
    account_id, person = citizen
    flow.login(person)  # login by CCCD
    with Session(provider.db.engine) as session:
        account = session.scalar(select(Account).where(Account.cccd_is(person.cccd)))
        assert (account.id, account.full_name, account.email) == (
            account_id, person.full_name, person.email)
        assert account.birthdate.isoformat() == person.birthdate
        assert session.scalar(select(Account).where(Account.cccd_is("001085999999"))) is None
        # The phone a lost-phone recovery or the helpdesk names, found by its index.
        owners = session.scalars(select(OtpPhone.account_id)
                                 .where(OtpPhone.phone_is(SECOND_PHONE))).all()
        assert owners == [account_id]
        with pytest.raises(DataKeyError, match="blind index"):
            select(Account).where(Account.cccd == person.cccd)
    if backend == "sqlite":
        with provider.db.engine.connect() as connection:
            plan = connection.execute(text(
                "EXPLAIN QUERY PLAN SELECT id FROM accounts WHERE cccd_index = 'x'")).all()
        assert "uq_accounts_cccd_index" in str(plan)  # one index probe, at any size


def test_a_value_moved_to_another_column_does_not_decrypt(citizen, provider):
    account_id, _ = citizen
    accounts = table("accounts", column("id"), column("full_name"), column("email"))
    with provider.db.engine.begin() as connection:
        name = connection.scalar(select(accounts.c.full_name).where(accounts.c.id == account_id))
        connection.execute(accounts.update().where(accounts.c.id == account_id)
                           .values(email=name))
    with Session(provider.db.engine) as session, pytest.raises(Exception) as refused:
        session.get(Account, account_id)
    assert "does not authenticate" in str(refused.value)


def _raw_accounts(engine) -> list[dict]:
    accounts = table("accounts", column("id"), column("cccd"), column("full_name"),
                     column("birthdate"), column("email"), column("cccd_index"))
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(select(accounts)).mappings()]


def test_rotation_re_encrypts_every_row_and_leaves_every_account_readable(
        backend, app, provider, make_account, settings, flow):
    people = [make_account(make_person(740 + n))[1] for n in range(5)]
    engine = provider.db.engine
    ring = ring_for(engine.dialect)
    old_key = ring.encryption_key()[0]
    # Another node, running since before the rotation, with the old keys loaded.
    other = create_engine(engine.url.render_as_string(hide_password=False))
    data_keys.bind(other, settings)
    with Session(engine) as session, session.begin():
        new_key = add_data_key(session, configured_kek(settings)).id
    ring.reload()
    lines: list[str] = []
    rewritten = reencrypt_all(engine, ring, lines.append, batch=2)

    assert rewritten >= len(people)
    assert any("accounts: 4/5 rows read" in line for line in lines)  # progress per batch
    for row in _raw_accounts(engine):
        assert key_id_of(row["cccd"]) == key_id_of(row["full_name"]) == new_key != old_key
    # The other node meets rows under a key it does not know yet: it reloads and reads them.
    with Session(other) as session:
        names = {a.cccd: a.full_name for a in session.scalars(select(Account))}
    other.dispose()
    assert names == {p.cccd: p.full_name for p in people}
    flow.login(people[0])  # the blind index did not change with the data key
    assert reencrypt_all(engine, ring, lines.append) == 0  # rerun: nothing left to do


def test_rows_written_in_clear_are_encrypted_and_found(backend, app, provider):
    """What `idp data encrypt` does after migration 0015 on a database of clear rows."""
    engine = provider.db.engine
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO accounts (subject, cccd, full_name, birthdate, gender, email, "
            "email_verified, password_hash, account_type, ial, verified_by, status, "
            "created_at, password_changed_at, birthdate_verified) VALUES ('legacy-sub', "
            ":cccd, :name, :birthdate, 'female', :email, false, 'x', 'citizen', 2, "
            "'operator', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, true)"),
            {"cccd": PERSON.cccd, "name": PERSON.full_name, "birthdate": PERSON.birthdate,
             "email": PERSON.email})
    ring = ring_for(engine.dialect)
    with Session(engine) as session:
        assert session.scalar(select(Account.id).where(Account.cccd_is(PERSON.cccd))) is None
    reencrypt_all(engine, ring, lambda line: None)
    [row] = _raw_accounts(engine)
    assert _leaks(repr(row).encode()) == []
    with Session(engine) as session:
        account = session.scalar(select(Account).where(Account.cccd_is(PERSON.cccd)))
        assert (account.subject, account.full_name, account.birthdate.isoformat()) == (
            "legacy-sub", PERSON.full_name, PERSON.birthdate)


def test_a_row_changed_during_the_pass_is_not_overwritten(backend, app, provider, settings,
                                                          make_account, monkeypatch):
    if backend == "sqlite":
        pytest.skip("SQLite lets one writer in at a time: nothing can change under a batch")
    import idp.store.reencryption as reencryption

    account_id, _ = make_account(make_person(760))
    engine = provider.db.engine
    ring = ring_for(engine.dialect)
    with Session(engine) as session, session.begin():
        add_data_key(session, configured_kek(settings))
    ring.reload()
    original, changed = reencryption._rewritten, []

    def citizen_renamed_meanwhile(ring_, spec, row, active):
        if spec.name == "accounts" and not changed:
            with Session(engine) as session, session.begin():
                session.get(Account, account_id).full_name = "Nguyễn Văn Bình"
            changed.append(row["id"])
        return original(ring_, spec, row, active)

    monkeypatch.setattr(reencryption, "_rewritten", citizen_renamed_meanwhile)
    lines: list[str] = []
    reencrypt_all(engine, ring, lines.append)
    assert "accounts: 1 rows changed meanwhile, another pass" in lines
    with Session(engine) as session:
        assert session.get(Account, account_id).full_name == "Nguyễn Văn Bình"
    assert all(key_id_of(row["full_name"]) == ring.encryption_key()[0]
               for row in _raw_accounts(engine))
