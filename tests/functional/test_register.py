"""Registration with level-2 checks: mobile subscriber, BHXH and Vietnam Post.

Everything runs through the test client against the three registry simulators
over real HTTP (one dedicated, call-counting set for this module). Each
refusal must say what to do, send no OTP and leave no account row; an account
for an existing CCCD is only mentioned after the registrant proved a phone.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import func, select

from connectors.email import read_outbox
from connectors.simulators import DEFAULT_API_KEYS, SIMULATORS
from connectors.simulators.fixtures import load_fixtures
from connectors.simulators.serving import start
from idp.store.models import Account, Complaint
from tests.conftest import Flow, csrf_from, last_otp, query, read_otps

PASSWORD = "Gio-Mua#Thu-Sang-4719"
LOA2 = "urn:vn:sso:loa:2"
UNAVAILABLE = "tạm thời không phản hồi"
FIXTURES = load_fixtures()


# --- the registries: the three simulators, counting the calls they answer -----------------


class Registries:
    """The carrier, BHXH and Post simulators of this module, with a log of registry calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.running = {}
        for name, factory in SIMULATORS.items():
            app = factory(FIXTURES, DEFAULT_API_KEYS[name], 0.0)
            app.before_request(self._counter(name))
            self.running[name] = start(app)

    def _counter(self, name: str):
        from flask import request

        def count() -> None:
            if not request.path.startswith("/_control/"):
                with self._lock:
                    self.calls.append((name, request.path))

        return count

    def stop(self) -> None:
        for simulator in self.running.values():
            simulator.stop()


@pytest.fixture(scope="module")
def registries():
    running = Registries()
    yield running
    running.stop()


def simulator_app(system: str):
    return SIMULATORS[system](FIXTURES, DEFAULT_API_KEYS[system], 0.0)


@pytest.fixture
def own_carrier():
    """A carrier simulator for this test alone (to stop, restart or slow down)."""
    box = SimpleNamespace(sim=start(simulator_app("carrier")))
    box.port = int(box.sim.url.rsplit(":", 1)[1])
    box.url = box.sim.url
    yield box
    if box.sim is not None:
        box.sim.stop()


@pytest.fixture
def overrides() -> dict:
    """Extra settings sections; a test changes them with @pytest.mark.parametrize."""
    return {}


@pytest.fixture
def settings(request, settings_for, registries, tmp_path, overrides):
    """Settings on the current backend pointing at this module's simulators."""
    sections = {name: {"url": sim.url} for name, sim in registries.running.items()}
    sections["email"] = {"outbox_path": str(tmp_path / "mail.jsonl")}
    if "own_carrier" in request.fixturenames:
        sections["carrier"]["url"] = request.getfixturevalue("own_carrier").url
    for name, values in overrides.items():
        sections.setdefault(name, {}).update(values)
    registries.calls.clear()
    return settings_for(**sections)


# --- driving the screens ---------------------------------------------------------------


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def alert(html: str) -> str:
    match = re.search(r'id="error">([^<]*)<', html)
    return match.group(1) if match else ""


def field_errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'id="error-([a-z_]+)">([^<]*)<', html))


def page_ids(html: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html))


def heading(html: str) -> str:
    return re.search(r"<h1>([^<]*)</h1>", html).group(1)


class Registrar:
    """One browser going through the registration screens."""

    def __init__(self, browser, app, provider, settings) -> None:
        self.browser, self.app, self.provider, self.settings = browser, app, provider, settings

    def answer(self, captcha_id: str) -> str:
        with self.app.app_context():
            return self.provider.state.get(f"captcha:{captcha_id}")["answer"]

    def submit(self, method: str, values: dict, *, captcha: str | None = "right",
               captcha_id: str | None = None):
        """Open the method's form and post `values` with the captcha (right, wrong, None)."""
        html = self.browser.get(f"/register/{method}").get_data(as_text=True)
        captcha_id = captcha_id or hidden(html, "captcha_id")
        data = {"csrf_token": csrf_from(html), "captcha_id": captcha_id, **values}
        if captcha == "right":
            data["captcha"] = self.answer(captcha_id)
        elif captcha == "wrong":
            data["captcha"] = "ZZZZZ" if self.answer(captcha_id) != "ZZZZZ" else "YYYYY"
        return self.browser.post(f"/register/{method}", data=data)

    def submit_otp(self, registration: str, code: str):
        html = self.browser.get("/register/otp", query_string={"r": registration})
        html = html.get_data(as_text=True)
        return self.browser.post("/register/otp", data={
            "csrf_token": csrf_from(html), "r": registration, "otp": code})

    def prove_phone(self, response, phone: str):
        """From the redirect to the OTP screen: type the code sent to `phone`."""
        assert response.status_code == 303, response.get_data(as_text=True)
        location = response.headers["Location"]
        assert urlsplit(location).path == "/register/otp", location
        registration = query(location)["r"]
        return registration, self.submit_otp(registration, last_otp(self.settings, phone))

    def set_password(self, registration: str, password: str = PASSWORD,
                     confirm: str | None = None):
        html = self.browser.get("/register/password", query_string={"r": registration})
        assert html.status_code == 200, html.get_data(as_text=True)
        return self.browser.post("/register/password", data={
            "csrf_token": csrf_from(html.get_data(as_text=True)), "r": registration,
            "password": password, "confirm": password if confirm is None else confirm})

    def register(self, method: str, values: dict, otp_phone: str, password: str = PASSWORD):
        """A whole registration by SMS OTP; returns the final response."""
        response = self.submit(method, values)
        registration, response = self.prove_phone(response, otp_phone)
        assert response.status_code == 303, response.get_data(as_text=True)
        assert urlsplit(response.headers["Location"]).path == "/register/password"
        return self.set_password(registration, password)


@pytest.fixture
def registrar(browser, app, provider, settings) -> Registrar:
    return Registrar(browser, app, provider, settings)


def post_values(person, activation: str) -> dict:
    return {**person.form(), "activation": activation}


def accounts(provider, cccd: str | None = None) -> list[dict]:
    with provider.db.sessions() as session:
        statement = select(Account)
        if cccd is not None:
            statement = statement.where(Account.cccd == cccd)
        return [
            {"id": a.id, "cccd": a.cccd, "full_name": a.full_name, "ial": a.ial,
             "verified_by": a.verified_by, "bhxh_code": a.bhxh_code, "email": a.email,
             "email_verified": a.email_verified, "status": a.status,
             "phones": [(p.phone, p.is_default) for p in a.phones]}
            for a in session.scalars(statement)
        ]


def account_count(provider) -> int:
    with provider.db.sessions() as session:
        return session.scalar(select(func.count()).select_from(Account))


def registry_paths(registries) -> list[str]:
    return [system for system, _ in registries.calls]


def login_acr(browser, settings, make_portal, cccd: str, password: str = PASSWORD) -> dict:
    """Log in through the OIDC code flow; the ID token's claims."""
    flow = Flow(browser, settings, make_portal())
    auth = flow.login(SimpleNamespace(cccd=cccd, password=password))
    response = flow.exchange(auth)
    assert response.status_code == 200, response.get_json()
    keys = KeySet.import_key_set(browser.get("/jwks").get_json())
    return jwt.decode(response.get_json()["id_token"], keys, algorithms=["RS256"]).claims


def assert_done(response, person) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert 'id="registered"' in html and person.full_name in html


# --- the three methods, end to end -------------------------------------------------------


def test_mobile_registration_then_login(registrar, provider, browser, settings, make_portal,
                                        registries):
    person = FIXTURES.one("carrier: full match")
    response = registrar.submit("mobile", person.form())
    assert registry_paths(registries) == ["carrier"]
    registration, response = registrar.prove_phone(response, person.phone)
    assert response.status_code == 303
    assert accounts(provider, person.cccd) == []  # nothing before the password step
    assert_done(registrar.set_password(registration), person)

    [account] = accounts(provider, person.cccd)
    assert account["ial"] == 2 and account["verified_by"] == "carrier"
    assert account["full_name"] == person.full_name and account["status"] == "active"
    assert account["phones"] == [(person.phone, True)]
    assert account["bhxh_code"] is None

    claims = login_acr(browser, settings, make_portal, person.cccd)
    assert claims["acr"] == LOA2
    # The login OTP went to the registered phone.
    assert read_otps(settings)[-1]["to"] == person.phone


def test_bhxh_registration_then_login(registrar, provider, browser, settings, make_portal,
                                      registries):
    person = FIXTURES.one("bhxh: full match")
    assert_done(registrar.register("bhxh", person.form(), person.phone), person)
    # The BHXH record carries the phone typed: no carrier check was needed.
    assert registry_paths(registries) == ["bhxh"]

    [account] = accounts(provider, person.cccd)
    assert account["ial"] == 2 and account["verified_by"] == "bhxh"
    assert account["bhxh_code"] == person.bhxh_code
    assert account["phones"] == [(person.phone, True)]
    assert login_acr(browser, settings, make_portal, person.cccd)["acr"] == LOA2


def test_post_registration_by_sms_then_login(registrar, provider, browser, settings,
                                             make_portal):
    person = FIXTURES.one("post: verified")
    assert_done(registrar.register("post", post_values(person, "sms"), person.post.phone),
                person)
    [account] = accounts(provider, person.cccd)
    assert account["ial"] == 2 and account["verified_by"] == "post"
    assert account["phones"] == [(person.post.phone, True)]
    assert account["email_verified"] is False
    assert login_acr(browser, settings, make_portal, person.cccd)["acr"] == LOA2


def test_post_sms_goes_to_the_phone_post_holds(registrar, provider, settings):
    """Vietnam Post activation never goes to a phone typed on the form."""
    person = FIXTURES.one("post: verified, different phone")
    assert person.post.phone != person.phone
    response = registrar.submit("post", post_values(person, "sms"))
    assert [m["to"] for m in read_otps(settings)] == [person.post.phone]
    registration, response = registrar.prove_phone(response, person.post.phone)
    assert_done(registrar.set_password(registration), person)
    assert accounts(provider, person.cccd)[0]["phones"] == [(person.post.phone, True)]


def activation_links(settings, address: str) -> list[str]:
    """The activation links e-mailed to `address`, oldest first, as path?query."""
    links = []
    for mail in read_outbox(settings.email.outbox_path):
        if mail["to"] == address:
            parts = urlsplit(re.search(r"(https?://\S+/register/activate\?\S+)",
                                       mail["body"]).group(1))
            links.append(f"{parts.path}?{parts.query}")
    return links


def submit_phone(browser, registration: str, phone: str):
    html = browser.get("/register/phone", query_string={"r": registration})
    assert html.status_code == 200, html.get_data(as_text=True)
    return browser.post("/register/phone", data={
        "csrf_token": csrf_from(html.get_data(as_text=True)), "r": registration,
        "phone": phone})


def test_post_registration_by_email_link_then_login(registrar, provider, browser, settings,
                                                    make_portal, app):
    person = FIXTURES.one("post: verified, e-mail only")
    response = registrar.submit("post", post_values(person, "email"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="email-sent"' in html, html
    assert read_otps(settings) == []  # no SMS: Vietnam Post holds no phone
    [link] = activation_links(settings, person.post.email)

    # The link works only in the browser that registered (and is then used up).
    stranger = app.test_client()
    assert stranger.get(link, base_url="https://sso.test").status_code == 400

    registrar.submit("post", post_values(person, "email"))
    link = activation_links(settings, person.post.email)[-1]
    response = browser.get(link)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert urlsplit(response.headers["Location"]).path == "/register/phone"
    registration = query(response.headers["Location"])["r"]
    assert browser.get(link).status_code == 400  # used up

    # The OTP phone must be a subscription in the person's own name.
    refused = submit_phone(browser, registration, FIXTURES.unknown_phones[0])
    assert refused.status_code == 400
    assert "thuê bao chính chủ" in alert(refused.get_data(as_text=True))
    assert read_otps(settings) == []

    response = submit_phone(browser, registration, person.phone)
    registration, response = registrar.prove_phone(response, person.phone)
    assert_done(registrar.set_password(registration), person)

    [account] = accounts(provider, person.cccd)
    assert account["ial"] == 2 and account["verified_by"] == "post"
    assert account["email"] == person.post.email and account["email_verified"] is True
    assert account["phones"] == [(person.phone, True)]
    assert login_acr(browser, settings, make_portal, person.cccd)["acr"] == LOA2


# --- refusals: every mismatch scenario of the fixtures ----------------------------------

# (method, scenario tag, activation, what the message must say)
MISMATCHES = [
    ("mobile", "carrier: name differs", None, "không khớp"),
    ("mobile", "carrier: birthdate differs", None, "không khớp"),
    ("mobile", "carrier: cccd differs", None, "không khớp"),
    ("mobile", "carrier: phone registered to someone else", None, "không khớp"),
    ("mobile", "carrier: suspended", None, "tạm khóa"),
    ("mobile", "carrier: unknown phone", None, "không tồn tại"),
    ("bhxh", "bhxh: name differs", None, "không khớp với hồ sơ"),
    ("bhxh", "bhxh: birthdate differs", None, "không khớp với hồ sơ"),
    ("bhxh", "bhxh: cccd differs", None, "không khớp với hồ sơ"),
    ("post", "post: not verified", "sms", "chưa xác minh"),
    ("post", "post: not verified", "email", "chưa xác minh"),
    ("post", "post: name differs", "sms", "chưa xác minh"),
    ("post", "post: birthdate differs", "sms", "chưa xác minh"),
    ("post", "post: no record", "sms", "chưa xác minh"),
    ("post", "post: no record", "email", "chưa xác minh"),
    ("post", "post: verified, e-mail only", "sms", "chưa lưu số điện thoại"),
    ("post", "post: verified, phone only", "email", "chưa lưu địa chỉ thư điện tử"),
]


def assert_refused(response, provider, settings, person, says: str) -> str:
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html
    message = alert(html)
    assert says in message, message
    # Vietnamese, and it tells the citizen what to do next.
    assert any(hint in message for hint in ("Vui lòng", "vui lòng", "hoặc")), message
    assert read_otps(settings) == [] and read_outbox(settings.email.outbox_path) == []
    assert accounts(provider, person.cccd) == []
    # The form comes back with what was typed, and a fresh captcha.
    assert f'value="{person.cccd}"' in html and hidden(html, "captcha_id")
    return message


@pytest.mark.parametrize(("method", "scenario", "activation", "says"), MISMATCHES,
                         ids=[f"{m[1]}-{m[2] or 'sms'}" for m in MISMATCHES])
def test_mismatch_is_refused_and_nothing_is_created(registrar, provider, settings, method,
                                                     scenario, activation, says):
    for person in FIXTURES.with_scenario(scenario):
        values = post_values(person, activation) if activation else person.form()
        if method == "bhxh":
            assert person.bhxh_code, person.id
        response = registrar.submit(method, values)
        message = assert_refused(response, provider, settings, person, says)
        # A refusal never tells who owns the phone or the record.
        for other in FIXTURES.people:
            if other.cccd != person.cccd and other.full_name != person.full_name:
                assert other.full_name not in message and other.cccd not in message
    assert account_count(provider) == 0


@pytest.mark.parametrize("code", FIXTURES.unknown_bhxh_codes)
def test_bhxh_unknown_code_is_refused(registrar, provider, settings, code):
    person = FIXTURES.one("bhxh: not insured")
    response = registrar.submit("bhxh", {**person.form(), "bhxh_code": code})
    assert_refused(response, provider, settings, person, "Không tìm thấy mã số BHXH")


def test_bhxh_code_of_someone_else_is_refused(registrar, provider, settings):
    person, other = FIXTURES.with_scenario("bhxh: full match")[:2]
    response = registrar.submit("bhxh", {**person.form(), "bhxh_code": other.bhxh_code})
    assert_refused(response, provider, settings, person, "không khớp với hồ sơ")


@pytest.mark.parametrize("phone_of", ["unknown", "someone else", "suspended"])
def test_bhxh_phone_not_on_file_must_be_the_persons_own(registrar, provider, settings,
                                                        phone_of, registries):
    """A phone that differs from the BHXH file must pass the carrier check."""
    person = FIXTURES.one("bhxh: different phone on file")
    phone = {
        "unknown": FIXTURES.unknown_phones[0],
        "someone else": FIXTURES.one("carrier: full match").phone,
        "suspended": FIXTURES.one("carrier: suspended").phone,
    }[phone_of]
    response = registrar.submit("bhxh", {**person.form(), "phone": phone})
    assert_refused(response, provider, settings, person, "thuê bao chính chủ")
    assert registry_paths(registries) == ["bhxh", "carrier"]
    # The phone on file is not revealed either.
    assert person.insured.phone[-4:] not in alert(response.get_data(as_text=True))


@pytest.mark.parametrize("scenario", ["bhxh: different phone on file", "bhxh: no phone on file"])
def test_bhxh_own_phone_not_on_file_is_accepted(registrar, provider, settings, scenario,
                                                registries):
    person = FIXTURES.one(scenario)
    assert person.insured.phone != person.phone
    assert_done(registrar.register("bhxh", person.form(), person.phone), person)
    assert registry_paths(registries) == ["bhxh", "carrier"]
    [account] = accounts(provider, person.cccd)
    assert account["phones"] == [(person.phone, True)] and account["verified_by"] == "bhxh"


def test_unknown_phones_are_refused_for_mobile(registrar, provider, settings):
    person = FIXTURES.one("carrier: full match")
    for phone in FIXTURES.unknown_phones[:2]:
        response = registrar.submit("mobile", {**person.form(), "phone": phone})
        assert_refused(response, provider, settings, person, "không tồn tại")


# --- names written differently are the same name ----------------------------------------


def _variants(name: str) -> dict[str, str]:
    return {
        "nfd": unicodedata.normalize("NFD", name),
        "upper": name.upper(),
        "lower": name.lower(),
        "spacing": "  " + "   ".join(name.split()) + " ",
    }


@pytest.mark.parametrize("variant", ["nfd", "upper", "lower", "spacing"])
@pytest.mark.parametrize("method", ["mobile", "bhxh", "post"])
def test_typed_name_written_differently_is_accepted(registrar, settings, method, variant):
    person = FIXTURES.one("all: full match")
    values = {**person.form(), "full_name": _variants(person.full_name)[variant]}
    if method == "post":
        values["activation"] = "sms"
    response = registrar.submit(method, values)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert [m["to"] for m in read_otps(settings)] == [person.phone]


@pytest.mark.parametrize(("method", "scenario", "activation"), [
    ("mobile", "carrier: name written differently", None),
    ("bhxh", "bhxh: name written differently", None),
    ("post", "post: name written differently", "sms"),
])
def test_registry_name_written_differently_is_accepted(registrar, provider, settings, method,
                                                       scenario, activation):
    people = FIXTURES.with_scenario(scenario)
    for person in people:
        values = post_values(person, activation) if activation else person.form()
        response = registrar.submit(method, values)
        assert response.status_code == 303, (person.id, response.get_data(as_text=True))
    # One of them all the way: the account keeps the name as the citizen typed it (NFC).
    person = people[0]
    response = registrar.submit(method, post_values(person, activation) if activation
                                else person.form())
    registration, response = registrar.prove_phone(response, person.phone)
    assert_done(registrar.set_password(registration), person)
    [account] = accounts(provider, person.cccd)
    assert account["full_name"] == unicodedata.normalize("NFC", person.full_name)
