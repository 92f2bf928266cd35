"""idp/limits.py: the table of named limits and the Limiter that counts them in the state
store (here the SQL one on SQLite), without an app."""

from __future__ import annotations

import hashlib
import time
import uuid

import pytest
from sqlalchemy import select, update

from idp.config import ConfigError
from idp.db import make_engine
from idp.limits import LIMITS, Limiter, UnknownLimit, check_overrides, parse_rate
from idp.store.models import Base, StateEntry
from idp.store.state import SqlStateStore
from tests.conftest import make_settings

LOGIN_SECONDS = 900
SECRET = "limiter-test-secret"
CCCD = "001085000123"
PHONE = "+84912345678"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('limits') / 'state.sqlite3'}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine) -> SqlStateStore:
    """A state store of the test's own (its own key prefix in the shared table)."""
    return SqlStateStore(engine, prefix=f"t{uuid.uuid4().hex[:8]}:")


@pytest.fixture
def limiter(store) -> Limiter:
    return Limiter(store, {}, SECRET, LOGIN_SECONDS)


def stored_keys(store: SqlStateStore) -> list[str]:
    with store.engine.connect() as connection:
        return list(connection.scalars(
            select(StateEntry.key).where(StateEntry.key.startswith(store.prefix))))


def let_every_window_end(store: SqlStateStore) -> None:
    """What the store sees once the windows have passed: every entry expired."""
    with store.engine.begin() as connection:
        connection.execute(update(StateEntry).where(StateEntry.key.startswith(store.prefix))
                           .values(expires_at=time.time() - 1))


# --- the table -------------------------------------------------------------------------


def test_every_limit_has_a_positive_budget_and_a_window():
    for name, limit in LIMITS.items():
        item = parse_rate(name, limit.default, LOGIN_SECONDS)
        assert item.amount > 0, name
        assert item.get_expiry() > 0, name


def test_a_per_login_window_lasts_as_long_as_a_login_may_take(limiter):
    assert parse_rate("otp.wrong_codes", "5 per login", LOGIN_SECONDS).get_expiry() == 900
    limiter.hit("otp.wrong_codes", "tx-1")
    assert limiter.resets_at("otp.wrong_codes", "tx-1") == pytest.approx(time.time() + 900, abs=5)


def test_a_rate_from_the_configuration_replaces_that_limits_default_only(store, tmp_path):
    settings = make_settings(tmp_path, "sqlite://", "sql",
                             limits={"sms.per_login": "2 per login"})
    limiter = Limiter(store, settings.limits, SECRET, LOGIN_SECONDS)
    assert limiter.amount("sms.per_login") == 2
    others = {name: limiter.amount(name) for name in LIMITS if name != "sms.per_login"}
    assert others == {name: parse_rate(name, LIMITS[name].default, 1).amount for name in others}


def test_a_misspelt_limit_or_a_rate_that_does_not_parse_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="no such limit"):
        make_settings(tmp_path, "sqlite://", "sql", limits={"sms.per_logn": "2 per login"})
    for overrides in ({"sms.per_logn": "2 per login"}, {"sms.per_login": "lots per hour"},
                      {"sms.per_login": "0 per login"}, {"sms.per_login": "-1 per hour"}):
        with pytest.raises(UnknownLimit):
            check_overrides(overrides)


def test_a_configured_budget_of_zero_is_refused_whatever_the_window():
    with pytest.raises(UnknownLimit):
        check_overrides({"otp.wrong_codes": "0 per hour"})


# --- counting --------------------------------------------------------------------------


def test_hits_within_the_budget_pass_and_the_next_is_refused(limiter):
    budget = limiter.amount("sms.login.phone")
    assert [limiter.hit("sms.login.phone", PHONE) for _ in range(budget)] == [True] * budget
    assert limiter.hit("sms.login.phone", PHONE) is False
    assert limiter.spent("sms.login.phone", PHONE)


def test_asking_whether_a_limit_is_spent_counts_nothing(limiter):
    for _ in range(10):
        assert not limiter.spent("sms.resend_wait", "tx-1", PHONE)
    assert limiter.count("sms.resend_wait", "tx-1", PHONE) == 0
    assert limiter.hit("sms.resend_wait", "tx-1", PHONE)


def test_hits_left_reaches_zero_on_the_last_allowed_hit_and_goes_below_after(limiter):
    assert [limiter.hits_left("otp.wrong_codes", "tx-1") for _ in range(6)] == [4, 3, 2, 1, 0, -1]


def test_windows_read_several_limits_as_their_own_reads_would(limiter):
    for _ in range(limiter.amount("sms.resend_wait")):
        limiter.hit("sms.resend_wait", "tx-1", PHONE)
    limiter.hit("sms.login.phone", PHONE)
    wait, phone, untouched = limiter.windows(("sms.resend_wait", ("tx-1", PHONE)),
                                             ("sms.login.phone", (PHONE,)),
                                             ("sms.login.address", ("203.0.113.9",)))
    assert (wait.spent, wait.count) == (True, limiter.count("sms.resend_wait", "tx-1", PHONE))
    assert wait.resets_at == pytest.approx(limiter.resets_at("sms.resend_wait", "tx-1", PHONE))
    assert (phone.spent, phone.count, phone.amount) == (False, 1, 6)
    assert not untouched.spent and untouched.count == 0
    assert untouched.resets_at == pytest.approx(time.time(), abs=2)


def test_hits_left_all_counts_each_limit_once_in_order(limiter):
    for _ in range(4):
        limiter.hit("otp.wrong_codes", "tx-1")
    assert limiter.hits_left_all(("otp.wrong_codes", ("tx-1",)), ("sms.login.phone", (PHONE,)),
                                 ("otp.wrong_codes", ("tx-1",))) == [0, 5, -1]
    assert limiter.count("otp.wrong_codes", "tx-1") == 6
    assert limiter.count("sms.login.phone", PHONE) == 1


def test_the_budget_is_whole_again_once_the_window_ends(limiter, store):
    for _ in range(limiter.amount("account.password_checks")):
        limiter.hit("account.password_checks", 7)
    assert limiter.spent("account.password_checks", 7)
    let_every_window_end(store)
    assert not limiter.spent("account.password_checks", 7)
    assert limiter.count("account.password_checks", 7) == 0
    assert limiter.hit("account.password_checks", 7)


def test_the_window_ends_an_hour_after_its_first_hit_not_after_its_last(limiter):
    limiter.hit("sms.login.phone", PHONE)
    first_end = limiter.resets_at("sms.login.phone", PHONE)
    assert first_end == pytest.approx(time.time() + 3600, abs=5)
    limiter.hit("sms.login.phone", PHONE)
    assert limiter.resets_at("sms.login.phone", PHONE) == first_end


def test_each_key_has_its_own_count(limiter):
    for _ in range(limiter.amount("register.checks.cccd")):
        limiter.hit("register.checks.cccd", CCCD)
    assert limiter.spent("register.checks.cccd", CCCD)
    assert not limiter.spent("register.checks.cccd", "001085000124")


def test_clearing_forgets_the_hits_of_that_key_only(limiter):
    limiter.hit("login.failures.cccd", CCCD)
    limiter.hit("login.failures.cccd", "001085000124")
    limiter.clear("login.failures.cccd", CCCD)
    assert limiter.count("login.failures.cccd", CCCD) == 0
    assert limiter.count("login.failures.cccd", "001085000124") == 1


def test_two_nodes_on_one_state_store_share_their_counts(store):
    one = Limiter(store, {}, SECRET, LOGIN_SECONDS)
    two = Limiter(store, {}, SECRET, LOGIN_SECONDS)
    for _ in range(3):
        one.hit("sms.reset.cccd", CCCD, "unknown-browsers")
    assert two.spent("sms.reset.cccd", CCCD, "unknown-browsers")


def test_the_store_holds_keyed_hashes_never_a_cccd_or_a_phone(limiter, store):
    limiter.hit("login.failures.cccd", CCCD)
    limiter.hit("sms.login.phone", PHONE)
    store.put(limiter.state_key("last-fail", "citizen", CCCD), {"at": 1}, 60)
    plain = [CCCD, PHONE, PHONE.lstrip("+"),
             *(hashlib.sha256(value.encode()).hexdigest()[:24] for value in (CCCD, PHONE))]
    keys = stored_keys(store)
    assert len(keys) == 3
    assert not [key for key in keys if any(value in key for value in plain)]
