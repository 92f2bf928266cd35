"""Shared fixtures: a provider on each backend, portals (clients), accounts, the SMS outbox.

Every provider test runs twice: on the embedded default (SQLite + SQL state
store) and on the production shape (PostgreSQL + Redis) when those are
reachable at 127.0.0.1; otherwise the second run is skipped and says why.
Over 400 lines: the fixtures and helpers every test folder shares (the login driver,
CSRF and outbox readers, the backends), kept in the one place pytest looks first.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from idp import create_app
from idp.config import Settings, load_settings
from idp.migrate import upgrade
from idp.store.models import Base
from keys import ensure_keys, make_backends
from tests.live import new_database

REDIS_URL = "redis://127.0.0.1:6379/15"
ISSUER = "https://sso.test"
STRONG_PASSWORD = "Lua-Thu#Ha-Noi-2024"
TEST_KEK = base64.b64encode(b"test data key-encryption key 32b").decode()


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def make_settings(tmp: Path, database_url: str, state_backend: str, **sections) -> Settings:
    """Settings for a test provider: fast argon2 parameters, files under `tmp`."""
    base = {
        "server": {
            "issuer": ISSUER,
            "secret_key": "test-secret-key-" + "x" * 32,
            "pairwise_salt": "test-pairwise-salt",
        },
        "database": {"url": database_url},
        "state": {"backend": state_backend, "redis_url": REDIS_URL,
                  "key_prefix": f"idptest:{uuid.uuid4().hex[:8]}:"},
        "keys": {"passphrase": "test-key-passphrase"},
        "data": {"kek": TEST_KEK},
        "passwords": {"memory_kib": 8192, "time_cost": 1},
        "sms": {"outbox_path": str(tmp / "sms.jsonl")},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return load_settings(None, **base)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite database with signing keys, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "idp.sqlite3"
    settings = make_settings(path.parent, f"sqlite:///{path}", "sql")
    upgrade(settings)
    engine = create_engine(settings.database_url)
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        ensure_keys(session, make_backends(settings.keys)["software"])
        session.commit()
    engine.dispose()
    return path


@contextmanager
def fresh_postgres_database(prefix: str, skipped: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards; the test is skipped
    (saying `skipped`) when PostgreSQL is not reachable."""
    if not _reachable(5432):
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {skipped}")
    with new_database(prefix) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory) -> str:
    """A fresh PostgreSQL database for this test run, migrated once, dropped at the end."""
    if not _reachable(6379):
        pytest.skip("Redis not reachable at 127.0.0.1:6379: production-shape run skipped")
    with fresh_postgres_database("idp_test", "production-shape run skipped") as url:
        settings = make_settings(tmp_path_factory.mktemp("pg"), url, "redis")
        upgrade(settings)
        engine = create_engine(url)
        from sqlalchemy.orm import Session

        with Session(engine) as session:
            ensure_keys(session, make_backends(settings.keys)["software"])
            session.commit()
        engine.dispose()
        yield url


def _empty_postgres(url: str) -> None:
    # DELETE, not TRUNCATE: TRUNCATE gives every table new files (≈ 60 ms for all of
    # them), DELETE of the few rows a test leaves takes a few milliseconds.
    tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name != "signing_keys"]
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        sequences = connection.execute(text(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")).scalars()
        connection.execute(text("; ".join(
            [f"DELETE FROM {table}" for table in tables]  # noqa: S608 (our own table names)
            + [f"ALTER SEQUENCE {name} RESTART" for name in sequences])))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql+redis"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def settings_for(request, backend, tmp_path, sqlite_template):
    """A factory of settings on the current backend (extra sections override defaults)."""

    def build(**sections) -> Settings:
        if backend == "sqlite":
            path = tmp_path / "idp.sqlite3"
            if not path.exists():
                shutil.copy(sqlite_template, path)
            return make_settings(tmp_path, f"sqlite:///{path}", "sql", **sections)
        url = request.getfixturevalue("postgres_url")
        return make_settings(tmp_path, url, "redis", **sections)

    if backend != "sqlite":
        url = request.getfixturevalue("postgres_url")
        _empty_postgres(url)
    return build


def drain_sms_after_each_request(app) -> None:
    """The SMS queue (idp/otp/queue.py) drained right after each request, before the test
    client returns, instead of by its thread: tests read the outbox as soon as the page is
    back. (In a server the answer leaves first; the drain follows.)"""
    queue = app.extensions["idp.sms_queue"]
    queue.background = False
    inner = app.wsgi_app

    def serve_then_drain(environ, start_response):
        answer = inner(environ, start_response)
        try:
            body = list(answer)
        finally:
            if hasattr(answer, "close"):
                answer.close()
        queue.drain()
        return body

    app.wsgi_app = serve_then_drain


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.config["TESTING"] = True
    drain_sms_after_each_request(app)
    yield app
    provider = app.extensions["idp.provider"]
    state = provider.state
    if hasattr(state, "redis"):
        for key in state.redis.scan_iter(state.prefix + "*"):
            state.redis.delete(key)
    provider.db.engine.dispose()


class HttpsClient(FlaskClient):
    """Test client speaking to the issuer's https origin, so Secure cookies flow."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", ISSUER)
        return super().open(*args, **kwargs)


@pytest.fixture
def browser(app):
    """A Flask test client that keeps cookies, like one browser."""
    app.test_client_class = HttpsClient
    return app.test_client()


@pytest.fixture
def provider(app):
    return app.extensions["idp.provider"]


# --- data factories ----------------------------------------------------------------------


@dataclass
class Person:
    cccd: str
    full_name: str
    birthdate: str
    gender: str
    phone: str
    email: str
    password: str = STRONG_PASSWORD


def make_person(n: int = 0, **overrides) -> Person:
    """A valid citizen: Hà Nội (001), male, born 1985, unique by `n`."""
    values = dict(
        cccd=f"001085{n:06d}",
        full_name="Nguyễn Văn An",
        birthdate="1985-03-15",
        gender="male",
        phone=f"+8491{1234567 + n:07d}",
        email=f"an{n}@example.vn",
    )
    values.update(overrides)
    return Person(**values)


@pytest.fixture
def make_account(app, provider):
    """Create an account through the same service the CLI and the counter use."""
    from idp.accounts import create_account, validate_new_account

    def create(person: Person | None = None, *, extra_phones=(), **overrides):
        person = person or make_person(**overrides)
        raw = {k: getattr(person, k) for k in
               ("cccd", "full_name", "birthdate", "gender", "phone", "email")}
        data = validate_new_account(raw, person.password, 0)
        with app.app_context():
            from idp.store.models import OtpPhone

            session = provider.db.session
            account = create_account(session, data, person.password, provider.passwords,
                                     verified_by="operator")
            for phone in extra_phones:
                account.phones.append(OtpPhone(phone=phone, is_default=False))
            session.commit()
            return account.id, person

    return create


@dataclass
class Portal:
    client_id: str
    secret: str
    redirect_uri: str
    post_logout_uri: str
    backchannel_uri: str | None


@pytest.fixture
def make_portal(app, provider):
    """Register a portal (client) with the provider."""
    from idp.clients import ClientRegistration, register_client

    def create(client_id: str = "portal-a", **overrides) -> Portal:
        base = f"https://{client_id}.test"
        reg = ClientRegistration(
            client_id=client_id,
            name=f"Cổng {client_id}",
            redirect_uris=[f"{base}/callback"],
            post_logout_redirect_uris=[f"{base}/"],
            backchannel_logout_uri=overrides.pop("backchannel_logout_uri", None),
            scopes=overrides.pop("scopes", ["openid", "profile", "phone", "email", "cccd",
                                            "offline_access"]),
        )
        for key, value in overrides.items():
            setattr(reg, key, value)
        with app.app_context():
            registered, secret = register_client(provider.db.session, reg)
            return Portal(client_id, secret, reg.redirect_uris[0],
                          reg.post_logout_redirect_uris[0], reg.backchannel_logout_uri)

    return create


@contextmanager
def forged_host(app, host: str = "evil.example") -> Iterator[None]:
    """Requests reach the provider with `Host` and `X-Forwarded-Host` set to `host`, as an
    attacker with their own browser session (its cookies for the real site) would send."""
    inner = app.wsgi_app

    def forge(environ, start_response):
        environ["HTTP_HOST"] = environ["HTTP_X_FORWARDED_HOST"] = host
        return inner(environ, start_response)

    app.wsgi_app = forge
    try:
        yield
    finally:
        app.wsgi_app = inner


# --- protocol helpers ---------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def read_otps(settings: Settings) -> list[dict]:
    path = Path(settings.sms.outbox_path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def last_otp(settings: Settings, phone: str | None = None) -> str:
    import re

    for message in reversed(read_otps(settings)):
        if phone is None or message["to"] == phone:
            return re.search(r"\b(\d{6})\b", message["text"]).group(1)
    raise AssertionError("no OTP in the outbox")


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The text of each cell of each body row of the table with this id."""
    from html.parser import HTMLParser

    class Rows(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.inside = self.in_body = False
            self.rows: list[list[str]] = []

        def handle_starttag(self, tag, attrs):
            if tag == "table" and dict(attrs).get("id") == table_id:
                self.inside = True
            elif self.inside and tag == "tbody":
                self.in_body = True
            elif self.in_body and tag == "tr":
                self.rows.append([])
            elif self.in_body and tag == "td":
                self.rows[-1].append("")

        def handle_endtag(self, tag):
            if tag == "table":
                self.inside = self.in_body = False

        def handle_data(self, data):
            if self.in_body and self.rows and self.rows[-1]:
                self.rows[-1][-1] += data

    parser = Rows()
    parser.feed(html)
    return [[" ".join(cell.split()) for cell in row] for row in parser.rows]


def csrf_from(html: str) -> str:
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@dataclass
class Authorization:
    location: str
    params: dict
    verifier: str
    nonce: str
    state: str


class Flow:
    """Drives a browser (test client) through authorize → login → OTP → consent."""

    def __init__(self, browser, settings: Settings, portal: Portal) -> None:
        self.browser = browser
        self.settings = settings
        self.portal = portal

    def authorize(self, **params):
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
        query_params = {
            "response_type": "code",
            "client_id": self.portal.client_id,
            "redirect_uri": self.portal.redirect_uri,
            "scope": "openid profile phone cccd",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        query_params.update(params)
        query_params = {k: v for k, v in query_params.items() if v is not None}
        response = self.browser.get("/authorize", query_string=query_params)
        return response, verifier, state, nonce

    def submit_password(self, location: str, cccd: str, password: str):
        page = self.browser.get(location)
        tx = query(location)["tx"]
        return self.browser.post("/login", data={
            "csrf_token": csrf_from(page.get_data(as_text=True)), "tx": tx,
            "cccd": cccd, "password": password,
        })

    def submit_otp(self, tx: str, code: str):
        page = self.browser.get("/login/otp", query_string={"tx": tx})
        return self.browser.post("/login/otp", data={
            "csrf_token": csrf_from(page.get_data(as_text=True)), "tx": tx, "otp": code,
        })

    def consent(self, location: str, decision: str = "allow"):
        page = self.browser.get(location)
        return self.browser.post("/consent", data={
            "csrf_token": csrf_from(page.get_data(as_text=True)), "tx": query(location)["tx"],
            "decision": decision,
        })

    def login(self, person: Person, **params) -> Authorization:
        """The whole interactive login; returns the redirect back to the portal."""
        response, verifier, state, nonce = self.authorize(**params)
        location = response.headers["Location"]
        if "/login" in location:
            tx = query(location)["tx"]
            response = self.submit_password(location, person.cccd, person.password)
            assert response.status_code == 303, response.get_data(as_text=True)
            response = self.submit_otp(tx, last_otp(self.settings))
            assert response.status_code == 303, response.get_data(as_text=True)
            location = response.headers["Location"]
        if "/consent" in location:
            location = self.consent(location).headers["Location"]
        assert location.startswith(self.portal.redirect_uri), location
        return Authorization(location, query(location), verifier, nonce, state)

    def exchange(self, auth: Authorization, **overrides):
        data = {
            "grant_type": "authorization_code",
            "code": auth.params["code"],
            "redirect_uri": self.portal.redirect_uri,
            "code_verifier": auth.verifier,
        }
        data.update(overrides)
        data = {k: v for k, v in data.items() if v is not None}
        return self.browser.post("/token", data=data,
                                 headers={"Authorization": basic(self.portal)})


def went_on(response, portal: Portal) -> bool:
    """A passed login step: 303 straight on to the consent page, or to the portal with a
    code (no stop at /authorize/resume)."""
    location = response.headers.get("Location", "")
    return response.status_code == 303 and (
        location.startswith("/consent?")
        or (location.startswith(portal.redirect_uri + "?") and "code=" in location))


def basic(portal: Portal, secret: str | None = None) -> str:
    raw = f"{portal.client_id}:{secret or portal.secret}".encode()
    return "Basic " + base64.b64encode(raw).decode()


@pytest.fixture
def flow(browser, settings, make_portal):
    return Flow(browser, settings, make_portal())


# --- outside registries (simulators over real HTTP) ---------------------------------------


@pytest.fixture(scope="session")
def simulators():
    """The carrier, BHXH and Vietnam Post simulators with their fixture people."""
    from connectors.simulators import DEFAULT_API_KEYS, SIMULATORS
    from connectors.simulators.fixtures import load_fixtures
    from connectors.simulators.serving import start

    fixtures = load_fixtures()
    running = {name: start(factory(fixtures, DEFAULT_API_KEYS[name], 0.0))
               for name, factory in SIMULATORS.items()}
    yield running
    for simulator in running.values():
        simulator.stop()


@pytest.fixture
def people():
    """The simulators' fixture people, by scenario."""
    from connectors.simulators.fixtures import load_fixtures

    return load_fixtures()


@pytest.fixture
def overrides() -> dict:
    """Config sections a test changes; set them with the `config(...)` mark below."""
    return {}


def config(**sections):
    """Run a test with these config sections, e.g. `@config(otp={"ttl": 30})`."""
    return pytest.mark.parametrize("overrides", [sections], ids=["cfg"])


@pytest.fixture
def settings(settings_for, simulators, overrides) -> Settings:
    """Provider settings pointing at the running simulators, plus the test's overrides."""
    registries = {name: {"url": sim.url} for name, sim in simulators.items()}
    for name, values in overrides.items():
        registries[name] = {**registries.get(name, {}), **values}
    return settings_for(**registries)


def pytest_collection_modifyitems(items) -> None:
    """Files of long tests first (failover, outage, browser), each file's tests in order:
    with one process per core, a long file started last would run alone at the end."""
    def rank(item) -> int:
        return 0 if item.get_closest_marker("slow") else 1 if item.get_closest_marker(
            "browser") else 2

    first = {}
    for item in items:
        first[item.path] = min(first.get(item.path, 2), rank(item))
    items.sort(key=lambda item: first[item.path])
