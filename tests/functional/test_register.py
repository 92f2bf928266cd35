"""Registration with level-2 checks: mobile subscriber, BHXH and Vietnam Post.

Everything runs through the test client against the three registry simulators
over real HTTP (one dedicated, call-counting set for this module). Each
refusal must say what to do, send no OTP and leave no account row; an account
for an existing CCCD is only mentioned after the registrant proved a phone.

One file for the three methods (over 400 lines): they share the simulators, the form and
the OTP step, and a refusal common to all is written once and run for each.
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
from tests.conftest import ISSUER, Flow, csrf_from, forged_host, last_otp, query, read_otps

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
    match = re.search(r'id="error">(?:<a [^>]*>)?([^<]*)<', html)
    return match.group(1) if match else ""


def field_errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'id="error-([a-z_]+)">([^<]*)<', html))


def form_csrf(browser) -> str:
    """This browser's CSRF token (any form page carries it)."""
    return csrf_from(browser.get("/register/mobile").get_data(as_text=True))


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
            statement = statement.where(Account.cccd_is(cccd))
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


def systems_asked(registries) -> list[str]:
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
    assert systems_asked(registries) == ["carrier"]
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
    assert systems_asked(registries) == ["bhxh"]

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


def test_post_activation_link_is_on_the_issuer_whatever_the_host_header(registrar, settings,
                                                                         app):
    person = FIXTURES.one("post: verified, e-mail only")
    with forged_host(app):
        response = registrar.submit("post", post_values(person, "email"))
    assert response.status_code == 200, response.get_data(as_text=True)
    [mail] = [m for m in read_outbox(settings.email.outbox_path) if m["to"] == person.post.email]
    assert "evil.example" not in mail["body"]
    assert f"{ISSUER}/register/activate?token=" in mail["body"]


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
    assert systems_asked(registries) == ["bhxh", "carrier"]
    # The phone on file is not revealed either.
    assert person.insured.phone[-4:] not in alert(response.get_data(as_text=True))


@pytest.mark.parametrize("scenario", ["bhxh: different phone on file", "bhxh: no phone on file"])
def test_bhxh_own_phone_not_on_file_is_accepted(registrar, provider, settings, scenario,
                                                registries):
    person = FIXTURES.one(scenario)
    assert person.insured.phone != person.phone
    assert_done(registrar.register("bhxh", person.form(), person.phone), person)
    assert systems_asked(registries) == ["bhxh", "carrier"]
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


# --- validation and captcha: refused before any registry is asked ------------------------


def assert_nothing_happened(provider, settings, registries) -> None:
    assert registries.calls == []
    assert read_otps(settings) == [] and read_outbox(settings.email.outbox_path) == []
    assert account_count(provider) == 0


@pytest.mark.parametrize(("method", "changes", "field"), [
    ("mobile", {"cccd": "12345"}, "cccd"),
    ("mobile", {"cccd": "999090136066"}, "cccd"),  # no such province
    ("mobile", {"birthdate": "17/05/1991"}, "cccd"),  # CCCD says born in 1990
    ("mobile", {"gender": "female"}, "cccd"),  # CCCD says male
    ("mobile", {"phone": "0123"}, "phone"),
    ("mobile", {"phone": "02438253456"}, "phone"),  # a landline
    ("mobile", {"phone": ""}, "phone"),
    ("mobile", {"full_name": ""}, "full_name"),
    ("mobile", {"full_name": "Khoa123"}, "full_name"),
    ("mobile", {"birthdate": ""}, "birthdate"),
    ("mobile", {"birthdate": "31/02/1990"}, "birthdate"),
    ("mobile", {"gender": ""}, "gender"),
    ("mobile", {"email": "not-an-address"}, "email"),
    ("bhxh", {"bhxh_code": "12345"}, "bhxh_code"),
    ("bhxh", {"bhxh_code": ""}, "bhxh_code"),
    ("bhxh", {"bhxh_code": "79123942ab"}, "bhxh_code"),
    ("bhxh", {"phone": ""}, "phone"),
    ("post", {"cccd": ""}, "cccd"),
    ("post", {"phone": "12"}, "phone"),
    ("post", {"activation": "fax"}, "activation"),
])
def test_invalid_field_gives_its_message_and_asks_no_registry(registrar, provider, settings,
                                                              registries, method, changes,
                                                              field):
    person = FIXTURES.one("all: full match")
    values = {**person.form(), "activation": "sms", **changes}
    response = registrar.submit(method, values)
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html
    errors = field_errors(html)
    assert field in errors and errors[field].strip(), errors
    assert_nothing_happened(provider, settings, registries)
    # What was typed stays in the form, with a fresh captcha.
    assert f'value="{person.full_name if "full_name" not in changes else changes["full_name"]}"' \
        in html
    assert hidden(html, "captcha_id")


def test_several_invalid_fields_are_all_reported(registrar, provider, settings, registries):
    response = registrar.submit("mobile", {"cccd": "1", "full_name": "", "birthdate": "x",
                                           "gender": "", "phone": "abc"})
    assert response.status_code == 400
    errors = field_errors(response.get_data(as_text=True))
    assert {"cccd", "full_name", "birthdate", "gender", "phone"} <= set(errors), errors
    assert_nothing_happened(provider, settings, registries)


def test_post_phone_and_email_are_optional(registrar, settings):
    person = FIXTURES.one("post: verified")
    response = registrar.submit("post", {**post_values(person, "sms"), "phone": "", "email": ""})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert [m["to"] for m in read_otps(settings)] == [person.post.phone]


@pytest.mark.parametrize("captcha", [None, "wrong"])
def test_missing_or_wrong_captcha_is_refused(registrar, provider, settings, registries, captcha):
    person = FIXTURES.one("carrier: full match")
    response = registrar.submit("mobile", person.form(), captcha=captcha)
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html
    assert "captcha" in field_errors(html)
    assert_nothing_happened(provider, settings, registries)


def test_captcha_is_single_use(registrar, browser, provider, settings, registries):
    person = FIXTURES.one("carrier: full match")
    html = browser.get("/register/mobile").get_data(as_text=True)
    captcha_id = hidden(html, "captcha_id")
    answer = registrar.answer(captcha_id)
    data = {**person.form(), "csrf_token": csrf_from(html), "captcha_id": captcha_id,
            "captcha": answer.lower()}  # case does not matter
    assert browser.post("/register/mobile", data=data).status_code == 303
    again = browser.post("/register/mobile", data=data)
    assert again.status_code == 400
    assert "captcha" in field_errors(again.get_data(as_text=True))

    # A wrong answer uses the captcha up as well: no second guess.
    html = browser.get("/register/mobile").get_data(as_text=True)
    captcha_id = hidden(html, "captcha_id")
    answer = registrar.answer(captcha_id)
    data.update(captcha_id=captcha_id, captcha="WRONG")
    assert browser.post("/register/mobile", data=data).status_code == 400
    data["captcha"] = answer
    assert browser.post("/register/mobile", data=data).status_code == 400
    assert systems_asked(registries) == ["carrier"]


def test_captcha_image_is_served(browser):
    html = browser.get("/register/bhxh").get_data(as_text=True)
    src = re.search(r'<img id="captcha-image" src="([^"]+)"', html).group(1)
    image = browser.get(src)
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")


# --- a registry that is down or slow ----------------------------------------------------


def test_registry_down_then_back(registrar, provider, settings, own_carrier):
    person = FIXTURES.one("carrier: full match")
    own_carrier.sim.stop()
    own_carrier.sim = None
    response = registrar.submit("mobile", person.form())
    html = response.get_data(as_text=True)
    assert response.status_code == 503, html
    assert UNAVAILABLE in alert(html) and "thử lại" in alert(html)
    # Values kept, nothing created, nothing sent.
    assert f'value="{person.cccd}"' in html and f'value="{person.full_name}"' in html
    assert f'value="{person.phone}"' in html
    assert read_otps(settings) == [] and accounts(provider, person.cccd) == []

    own_carrier.sim = start(simulator_app("carrier"), port=own_carrier.port)
    assert_done(registrar.register("mobile", person.form(), person.phone), person)
    assert len(accounts(provider, person.cccd)) == 1


@pytest.mark.parametrize("overrides", [{"carrier": {"read_timeout": 0.5}}])
def test_registry_slow_then_fast(registrar, provider, settings, own_carrier):
    person = FIXTURES.one("carrier: full match")
    control = own_carrier.url + "/_control/delay"
    key = {"Authorization": f"Bearer {DEFAULT_API_KEYS['carrier']}"}
    requests.post(control, json={"seconds": 1.5}, headers=key, timeout=5).raise_for_status()
    response = registrar.submit("mobile", person.form())
    assert response.status_code == 503, response.get_data(as_text=True)
    assert UNAVAILABLE in alert(response.get_data(as_text=True))
    assert read_otps(settings) == [] and accounts(provider, person.cccd) == []

    requests.post(control, json={"seconds": 0}, headers=key, timeout=5).raise_for_status()
    assert_done(registrar.register("mobile", person.form(), person.phone), person)


@pytest.mark.parametrize(("method", "scenario", "activation"), [
    ("bhxh", "bhxh: full match", None),
    ("post", "post: verified", "sms"),
    ("bhxh", "bhxh: different phone on file", None),  # the carrier is asked second
])
def test_other_registries_down(registrar, provider, settings, registries, method, scenario,
                               activation, monkeypatch):
    """BHXH or Post unreachable (or the carrier behind BHXH): 503, nothing created."""
    person = FIXTURES.one(scenario)
    system = "carrier" if scenario == "bhxh: different phone on file" else method
    with registrar.app.app_context():
        connector = getattr(provider, system)
    monkeypatch.setattr(connector.http, "base_url", "http://127.0.0.1:9")
    values = post_values(person, activation) if activation else person.form()
    response = registrar.submit(method, values)
    html = response.get_data(as_text=True)
    assert response.status_code == 503, html
    assert UNAVAILABLE in alert(html)
    assert read_otps(settings) == [] and read_outbox(settings.email.outbox_path) == []
    assert accounts(provider, person.cccd) == []


# --- a CCCD that already has an account ----------------------------------------------------


def otp_screen(browser, response) -> tuple[str, str]:
    """Follow the redirect to the OTP screen: (path, html without per-request values)."""
    location = response.headers["Location"]
    html = browser.get(location).get_data(as_text=True)
    html = re.sub(r'value="[^"]*"', 'value=""', html)
    html = re.sub(r"\+84 \d\d\*+\d\d", "PHONE", html)
    html = re.sub(r'data-(seconds|wait)="\d+"|\d+:\d\d', "", html)
    html = re.sub(r'data-(expires|extend|csrf)="[^"]*"', "", html)
    return urlsplit(location).path, html


def test_existing_cccd_is_revealed_only_after_phone_proof(registrar, browser, provider,
                                                          settings, app):
    taken, fresh = FIXTURES.with_scenario("all: full match")[:2]
    assert_done(registrar.register("mobile", taken.form(), taken.phone), taken)

    # Before proof: the same answer for the taken CCCD and for a fresh one.
    other = Registrar(app.test_client(), app, provider, settings)
    first = other.submit("bhxh", taken.form())
    second = other.submit("bhxh", fresh.form())
    assert first.status_code == second.status_code == 303
    assert otp_screen(other.browser, first) == otp_screen(other.browser, second)
    assert "đã có tài khoản" not in otp_screen(other.browser, first)[1]
    taken_r, fresh_r = query(first.headers["Location"])["r"], query(second.headers["Location"])["r"]
    for registration in (taken_r, fresh_r):
        # Nothing past the OTP screen opens before the proof.
        assert other.browser.get("/register/exists", query_string={"r": registration}
                                 ).status_code == 400
        assert other.browser.get("/register/complaint", query_string={"r": registration}
                                 ).status_code == 400
        early = other.browser.get("/register/password", query_string={"r": registration})
        assert urlsplit(early.headers["Location"]).path == "/register/otp"
    # A wrong code gets the same answer too.
    wrong = [other.submit_otp(r, "000000") for r in (taken_r, fresh_r)]
    assert [w.status_code for w in wrong] == [400, 400]
    assert heading(wrong[0].get_data(as_text=True)) == heading(wrong[1].get_data(as_text=True))

    # After proof: the taken CCCD is told, with what to do.
    response = other.submit_otp(taken_r, last_otp(settings, taken.phone))
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/register/exists"
    html = other.browser.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="exists"' in html
    assert 'href="/forgot"' in html and 'id="forgot"' in html
    assert "Khiếu nại" in html and "/register/complaint?r=" in html
    assert "một cửa" in html  # the counter
    # The password step cannot be used to create a second account.
    again = other.browser.get("/register/password", query_string={"r": taken_r})
    assert urlsplit(again.headers["Location"]).path == "/register/exists"

    # The complaint: a record for the helpdesk with the proven phone.
    page = other.browser.get("/register/complaint", query_string={"r": taken_r})
    assert page.status_code == 200
    csrf = csrf_from(page.get_data(as_text=True))
    empty = other.browser.post("/register/complaint", data={"csrf_token": csrf, "r": taken_r,
                                                            "description": " "})
    assert empty.status_code == 400
    filed = other.browser.post("/register/complaint", data={
        "csrf_token": csrf, "r": taken_r,
        "description": "Tôi chưa từng đăng ký tài khoản này."})
    html = filed.get_data(as_text=True)
    assert filed.status_code == 200 and 'id="complaint-done"' in html, html
    with provider.db.sessions() as session:
        [complaint] = session.scalars(select(Complaint)).all()
        assert complaint.cccd == taken.cccd and complaint.phone == taken.phone
        assert complaint.full_name == taken.full_name and complaint.status == "open"
        assert str(complaint.id) in html
    # The registration ends with the complaint: no second complaint from it.
    assert other.browser.get("/register/complaint", query_string={"r": taken_r}
                             ).status_code == 400
    assert len(accounts(provider, taken.cccd)) == 1

    # The fresh CCCD goes on to the password step as usual.
    response = other.submit_otp(fresh_r, last_otp(settings, fresh.phone))
    assert urlsplit(response.headers["Location"]).path == "/register/password"
    assert_done(other.set_password(fresh_r), fresh)
    assert account_count(provider) == 2


def test_account_created_meanwhile_is_not_duplicated(registrar, app, provider, settings):
    """Two registrations of one CCCD racing: the second ends on the 'exists' page."""
    person = FIXTURES.one("all: full match")
    other = Registrar(app.test_client(), app, provider, settings)
    first_r, response = registrar.prove_phone(registrar.submit("mobile", person.form()),
                                              person.phone)
    second_r, response = other.prove_phone(other.submit("bhxh", person.form()), person.phone)
    assert urlsplit(response.headers["Location"]).path == "/register/password"
    assert_done(registrar.set_password(first_r), person)
    late = other.browser.get("/register/password", query_string={"r": second_r})
    assert urlsplit(late.headers["Location"]).path == "/register/exists"
    assert len(accounts(provider, person.cccd)) == 1


def test_registration_is_bound_to_its_browser(registrar, app, provider, settings):
    person = FIXTURES.one("carrier: full match")
    registration, _ = registrar.prove_phone(registrar.submit("mobile", person.form()),
                                            person.phone)
    stranger = app.test_client()
    for path in ("/register/otp", "/register/password", "/register/exists"):
        response = stranger.get(path, query_string={"r": registration},
                                base_url="https://sso.test")
        assert response.status_code == 400, path
    assert stranger.get("/register/otp", query_string={"r": "nonsense"},
                        base_url="https://sso.test").status_code == 400


# --- abuse limits ------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [{"limits": {"register.checks.cccd": "2 per hour"}}])
def test_attempts_per_cccd(registrar, provider, settings, registries):
    person = FIXTURES.one("carrier: name differs")
    for _ in range(2):
        assert registrar.submit("mobile", person.form()).status_code == 422
    calls = len(registries.calls)
    response = registrar.submit("mobile", person.form())
    html = response.get_data(as_text=True)
    assert response.status_code == 429, html
    assert "quá nhiều lần" in alert(html)
    assert len(registries.calls) == calls  # refused before the registry is asked
    # Another CCCD from the same place is still served.
    other = FIXTURES.one("carrier: full match")
    assert registrar.submit("mobile", other.form()).status_code == 303
    assert accounts(provider, person.cccd) == []


@pytest.mark.parametrize("overrides", [{"limits": {"register.checks.address": "2 per hour"}}])
def test_attempts_per_ip(registrar, settings, registries):
    first, second, third = FIXTURES.with_scenario("carrier: full match")[:3]
    assert registrar.submit("mobile", first.form()).status_code == 303
    assert registrar.submit("bhxh", {**second.form(), "bhxh_code": "0000000000"}
                            ).status_code == 422
    response = registrar.submit("post", post_values(third, "sms"))
    assert response.status_code == 429
    assert len(registries.calls) == 2
    assert [m["to"] for m in read_otps(settings)] == [first.phone]


@pytest.mark.parametrize("overrides", [{"limits": {"sms.register.phone": "1 per hour"}}])
def test_sms_cap_per_phone(registrar, settings, browser):
    person = FIXTURES.one("all: full match")
    assert registrar.submit("mobile", person.form()).status_code == 303
    response = registrar.submit("bhxh", person.form())
    # No second code, but no dead end: the code page says why and what else there is.
    assert response.status_code == 303
    html = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Số điện thoại này đã nhận nhiều mã OTP" in html
    assert "Đăng ký bằng phương thức khác" in html
    assert len(read_otps(settings)) == 1


@pytest.mark.parametrize("overrides", [{"limits": {"sms.register.address": "2 per hour"}}])
def test_sms_cap_per_ip(registrar, settings, browser):
    people = FIXTURES.with_scenario("carrier: full match")[:3]
    for person in people[:2]:
        assert registrar.submit("mobile", person.form()).status_code == 303
    response = registrar.submit("mobile", people[2].form())
    assert response.status_code == 303
    html = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "mạng của bạn" in html
    assert len(read_otps(settings)) == 2


def test_otp_resend_cooldown(registrar, browser, settings):
    person = FIXTURES.one("carrier: full match")
    response = registrar.submit("mobile", person.form())
    registration = query(response.headers["Location"])["r"]
    html = browser.get(response.headers["Location"]).get_data(as_text=True)
    data = {"csrf_token": csrf_from(html), "r": registration}
    too_soon = browser.post("/register/otp/resend", data=data)
    assert too_soon.status_code == 429
    assert "Vui lòng chờ" in alert(too_soon.get_data(as_text=True))
    assert len(read_otps(settings)) == 1


def test_wrong_otps_end_the_registration(registrar, provider, settings):
    person = FIXTURES.one("carrier: full match")
    response = registrar.submit("mobile", person.form())
    registration = query(response.headers["Location"])["r"]
    code = last_otp(settings, person.phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in range(4, 0, -1):  # the limit otp.wrong_codes: 5 per registration
        response = registrar.submit_otp(registration, wrong)
        assert response.status_code == 400
        assert f"Bạn còn {left} lần thử" in alert(response.get_data(as_text=True))
    response = registrar.submit_otp(registration, wrong)
    assert response.status_code == 400
    assert "quá số lần cho phép" in response.get_data(as_text=True)
    # The registration is over: even the right code is of no use now, nothing was created.
    assert registrar.browser.get("/register/otp", query_string={"r": registration}
                                 ).status_code == 400
    late = registrar.browser.post("/register/otp", data={
        "csrf_token": form_csrf(registrar.browser), "r": registration, "otp": code})
    assert late.status_code == 400
    assert registrar.browser.get("/register/password", query_string={"r": registration}
                                 ).status_code == 400
    assert accounts(provider, person.cccd) == []


def test_otp_is_single_use(registrar, settings):
    person = FIXTURES.one("carrier: full match")
    response = registrar.submit("mobile", person.form())
    registration = query(response.headers["Location"])["r"]
    code = last_otp(settings, person.phone)
    assert registrar.submit_otp(registration, code).status_code == 303
    again = registrar.submit_otp(registration, code)
    assert again.status_code == 400


# --- the password step ------------------------------------------------------------------


@pytest.fixture
def proven(registrar):
    """A registration whose phone is proven, at the password step."""
    person = FIXTURES.one("carrier: full match")
    registration, response = registrar.prove_phone(registrar.submit("mobile", person.form()),
                                                   person.phone)
    assert urlsplit(response.headers["Location"]).path == "/register/password"
    return SimpleNamespace(person=person, r=registration)


def weak_passwords(person) -> dict[str, str]:
    birth = person.birthdate
    return {
        "short": "Ab1!",
        "no upper": "gio-mua#thu-sang-4719",
        "no digit": "Gio-Mua#Thu-Sang-Bay",
        "no special": "GioMuaThuSang4719",
        "cccd": f"Xa#{person.cccd}",
        "phone": f"Xa#0{person.phone[3:]}",
        "name": "".join(unicodedata.normalize("NFD", person.full_name).split()) + "#1Aa",
        "birthdate": f"Qz#{birth:%d%m%Y}x",
        "common": "Password1!",
    }


@pytest.mark.parametrize("kind", ["short", "no upper", "no digit", "no special", "cccd",
                                  "phone", "name", "birthdate", "common"])
def test_weak_password_is_refused_with_reasons(registrar, provider, proven, kind):
    password = weak_passwords(proven.person)[kind]
    response = registrar.set_password(proven.r, password)
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html
    problems = re.findall(r"<li>([^<]+)</li>", html)
    assert problems and all(p.strip() for p in problems)
    assert accounts(provider, proven.person.cccd) == []

    checked = registrar.browser.post("/register/password-check", data={
        "r": proven.r, "password": password, "csrf_token": form_csrf(registrar.browser)})
    assert checked.status_code == 200
    assert checked.get_json()["problems"], kind


def test_password_confirm_must_match(registrar, provider, proven):
    response = registrar.set_password(proven.r, PASSWORD, PASSWORD + "x")
    assert response.status_code == 400
    assert "không khớp" in response.get_data(as_text=True)
    assert accounts(provider, proven.person.cccd) == []
    # After a refusal the registration goes on: the right password creates the account.
    assert_done(registrar.set_password(proven.r), proven.person)


def test_password_check_endpoint(registrar, app, proven):
    html = registrar.browser.get("/register/password", query_string={"r": proven.r})
    html = html.get_data(as_text=True)
    assert 'data-check="/register/password-check"' in html
    csrf = csrf_from(html)
    check = registrar.browser.post("/register/password-check",
                                   data={"r": proven.r, "password": PASSWORD, "csrf_token": csrf})
    assert check.status_code == 200 and check.get_json() == {"problems": []}
    check = registrar.browser.post("/register/password-check",
                                   data={"r": proven.r, "password": "abc", "csrf_token": csrf})
    problems = check.get_json()["problems"]
    assert len(problems) >= 3 and all(isinstance(p, str) for p in problems)
    assert any("8 ký tự" in p for p in problems)
    # Only for a registration of this browser.
    stranger = app.test_client()
    stranger_csrf = form_csrf(stranger)
    response = stranger.post("/register/password-check", base_url="https://sso.test",
                             data={"r": proven.r, "password": "abc", "csrf_token": stranger_csrf})
    assert response.status_code == 400


def test_done_registration_cannot_be_replayed(registrar, provider, proven):
    assert_done(registrar.set_password(proven.r), proven.person)
    assert registrar.browser.get("/register/password", query_string={"r": proven.r}
                                 ).status_code == 400
    assert len(accounts(provider, proven.person.cccd)) == 1


def test_choose_type_and_method_pages(browser):
    html = browser.get("/register").get_data(as_text=True)
    assert 'id="type-citizen"' in html and 'href="/forgot"' in html
    html = browser.get("/register/citizen").get_data(as_text=True)
    assert {"method-mobile", "method-bhxh", "method-post"} <= page_ids(html)
    html = browser.get("/register/enterprise").get_data(as_text=True)
    assert "method-mobile" not in page_ids(html)
    for method in ("mobile", "bhxh", "post"):
        html = browser.get(f"/register/{method}").get_data(as_text=True)
        assert 'name="captcha_id"' in html and 'id="submit"' in html
