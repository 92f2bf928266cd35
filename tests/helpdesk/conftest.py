"""Helpdesk fixtures: staff members created through the service, their consoles (logged-in
test clients with password + TOTP), citizens whose data the carrier simulator knows."""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import pyotp
import pytest
from sqlalchemy import select

from connectors.simulators import DEFAULT_API_KEYS, SIMULATORS
from connectors.simulators.fixtures import FixturePerson, load_fixtures
from connectors.simulators.serving import start
from idp.helpdesk.staff import create_staff
from idp.store.models import AuditEvent
from tests.conftest import HttpsClient, Person, csrf_from

STAFF_PASSWORD = "Mua-Xuan#Hue-2025!"
NEW_STAFF_PASSWORD = "Thuyen-Rong#Song-Han-77"
FIXTURES = load_fixtures()
OLD_PHONE = "+84912000111"


@dataclass
class StaffUser:
    id: int
    username: str
    roles: tuple[str, ...]
    secret: str
    password: str = STAFF_PASSWORD
    used_codes: set[str] = field(default_factory=set)

    @property
    def actor(self) -> str:
        return f"staff:{self.username}"

    def fresh_code(self) -> str:
        """A TOTP code the server accepts and this user has not used yet (±1 step)."""
        totp = pyotp.TOTP(self.secret)
        for offset in (0, -30, 30):
            code = totp.at(time.time() + offset)
            if code not in self.used_codes:
                self.used_codes.add(code)
                return code
        raise AssertionError("no unused TOTP code left in the window")


@pytest.fixture
def settings(settings_for, simulators, request):
    """The conftest settings; a test asking for `own_carrier` talks to that simulator."""
    sections = {name: {"url": sim.url} for name, sim in simulators.items()}
    if "own_carrier" in request.fixturenames:
        sections["carrier"]["url"] = request.getfixturevalue("own_carrier").url
    return settings_for(**sections)


@pytest.fixture
def own_carrier():
    """A carrier simulator for one test alone (to stop and restart)."""
    box = SimpleNamespace(sim=start(SIMULATORS["carrier"](FIXTURES, DEFAULT_API_KEYS["carrier"],
                                                           0.0)))
    box.url = box.sim.url
    box.port = int(box.url.rsplit(":", 1)[1])
    yield box
    if box.sim is not None:
        box.sim.stop()


def restart_carrier(box) -> None:
    box.sim = start(SIMULATORS["carrier"](FIXTURES, DEFAULT_API_KEYS["carrier"], 0.0),
                    port=box.port)


@pytest.fixture
def make_staff(app, provider):
    """Create a staff member with `roles` through the same service the admin page uses."""
    numbers = itertools.count(1)

    def create(*roles: str, username: str | None = None, handed_over: bool = False
               ) -> StaffUser:
        """`handed_over`: the member has not yet replaced the password and TOTP secret the
        admin gave (by default they have, as after their first login)."""
        name = username or f"{roles[0]}.{next(numbers)}"
        with app.app_context():
            member, enrolment = create_staff(provider.db.session, name, "Lê Thị Cán Bộ", roles,
                                             STAFF_PASSWORD)
            member.must_replace_credentials = handed_over
            provider.db.session.commit()
            return StaffUser(member.id, member.username, tuple(member.roles), enrolment.secret)

    return create


class Console:
    """One staff member's browser on the console."""

    def __init__(self, app, user: StaffUser) -> None:
        app.test_client_class = HttpsClient
        self.client = app.test_client()
        self.user = user
        self.csrf = ""

    def start(self, password: str | None = None):
        """The password step; returns its response."""
        page = self.client.get("/helpdesk/login")
        self.csrf = csrf_from(page.get_data(as_text=True))
        return self.client.post("/helpdesk/login", data={
            "csrf_token": self.csrf, "username": self.user.username,
            "password": password or self.user.password})

    def totp(self, code: str | None = None):
        return self.client.post("/helpdesk/login/totp", data={
            "csrf_token": self.csrf, "code": code or self.user.fresh_code()})

    def login(self, then: str = "/helpdesk/") -> Console:
        response = self.start()
        assert response.status_code == 303, response.get_data(as_text=True)
        response = self.totp()
        assert response.status_code == 303, response.get_data(as_text=True)
        assert response.headers["Location"].endswith(then)
        return self

    def replace_credentials(self, password: str = NEW_STAFF_PASSWORD, confirm: str | None = None,
                            code: str | None = None):
        """Fill the page that replaces handed-over credentials with a new password and a
        code from the new secret shown there; on success the user holds the new ones."""
        page = self.client.get("/helpdesk/credentials").get_data(as_text=True)
        secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
        response = self.post("/helpdesk/credentials", password=password,
                             confirm=password if confirm is None else confirm,
                             code=code or pyotp.TOTP(secret).now())
        if response.status_code == 303:
            self.user.secret, self.user.password = secret, password
            self.user.used_codes.add(pyotp.TOTP(secret).now())
        return response

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, *, follow: bool = False, **data):
        """POST a console form (with the CSRF token); `follow` follows the redirect."""
        return self.client.post(path, data={"csrf_token": self.csrf, **data},
                                follow_redirects=follow)


@pytest.fixture
def console(app, make_staff):
    """`console("helpdesk")`: a logged-in console of a new staff member with these roles."""

    def open_console(*roles: str) -> Console:
        return Console(app, make_staff(*roles)).login()

    return open_console


def citizen(person: FixturePerson, phone: str = OLD_PHONE) -> Person:
    """A fixture person as an account holder whose OTP phone is `phone` (lost, say)."""
    return Person(cccd=person.cccd, full_name=person.full_name,
                  birthdate=person.birthdate.isoformat(), gender=person.gender, phone=phone,
                  email=person.email or "")


@pytest.fixture
def carrier_person() -> FixturePerson:
    """Someone whose phone the carrier confirms as registered to them."""
    return FIXTURES.one("carrier: full match")


def audit_rows(provider, event: str | None = None, **where) -> list[AuditEvent]:
    with provider.db.sessions() as session:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if event:
            query = query.where(AuditEvent.event == event)
        for name, value in where.items():
            query = query.where(getattr(AuditEvent, name) == value)
        return list(session.scalars(query))
