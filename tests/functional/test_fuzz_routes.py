"""Hostile input on every route: no 5xx answer and no traceback in the log, on both backends.

The routes come from the app's URL map, so a new route is fuzzed without anyone listing it;
the parameter names from the provider's own source and the OAuth specs. Each route gets a
bounded number of generated requests (Hypothesis, derandomized so CI sees the same ones)
from a browser that is logged in as a citizen and as a staff member with every role, and
has logins, a password reset and a registration in progress, so the values reach past the
"who are you" checks. Every request
that ever broke something is kept in `fuzz_corpus.json` and replayed first.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from connectors.simulators.fixtures import load_fixtures
from tests.conftest import Flow, basic, config, last_otp, query
from tests.helpdesk.conftest import Console, make_staff  # noqa: F401 (a fixture)
from tests.simsign.conftest import API_KEY as MSSP_KEY
from tests.simsign.conftest import mssp  # noqa: F401 (a fixture)
from tests.usbtoken.conftest import usb_pki  # noqa: F401 (a fixture)

CORPUS = Path(__file__).with_name("fuzz_corpus.json")
# Per route and method; IDP_FUZZ_EXAMPLES=60 for a deeper run (≈ 19,000 requests, 2.5 min).
EXAMPLES_PER_ROUTE = int(os.environ.get("IDP_FUZZ_EXAMPLES", "8"))
IDP_SOURCE = Path(__file__).parents[2] / "idp"

# Parameters the protocol layer reads through Authlib (never as a literal in our views).
OAUTH_NAMES = (
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "prompt",
    "max_age", "acr_values", "login_hint", "id_token_hint", "claims", "request",
    "request_uri", "code_challenge", "code_challenge_method", "grant_type", "code",
    "code_verifier", "refresh_token", "token", "token_type_hint", "client_secret",
    "client_assertion", "client_assertion_type", "post_logout_redirect_uri", "ui_locales",
    "response_mode", "logout_hint", "dpop_jkt",
)

HOSTILE = [
    "", " ", "\x00", "a\x00b", "²", "１２３", "١٢٣", "½", "Ⅻ", "-1", "0", "+1", "1e9", "0x10",
    "9" * 19, "9" * 40, str(2**63), str(-(2**63) - 1), "1" * 5000,
    "\r\nSet-Cookie: x=1", "%00", "%0d%0a", "../../etc/passwd", "<script>alert(1)</script>",
    "' OR 1=1 --", "{{7*7}}", "${jndi:x}", unicodedata.normalize("NFD", "Nguyễn Văn Ấn"),
    "\u202e\u200b", "🙂", "null", "[]", "{}", '{"a":', "true", "a b c", "https://evil.example/",
    "//evil.example", "javascript:alert(1)", "\ufeff0", "０", "𝟗", '"', "\\", "\u00a0code",
    "http://[", "https://portal-a.test:99999/callback", "ｃｏｄｅ", "code id_token",
]
BAD_AUTHORIZATION = [
    "Basic", "Basic ", "Basic !!!", "Basic w6k6w6k=", "Basic 6Ok6", "Basic Zm9v",
    "Basic " + "QQ" * 3000, "Basic JUZGOiVGRg==", "Bearer", "Bearer \x00", "DPoP x", "x",
    "Basic w4k6w4k=\x00",
]


def _parameter_names() -> list[str]:
    """Every literal parameter name the views read, plus the protocol's own."""
    names = set(OAUTH_NAMES)
    reading = re.compile(r"request\.|_field\(|\bfield\(|form\.get|args\.get|values\.get")
    for path in IDP_SOURCE.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if reading.search(line):
                names.update(re.findall(r'"([a-z][a-z0-9_]{0,29})"', line))
    return sorted(names)


NAMES = _parameter_names()
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
hostile = st.sampled_from(HOSTILE) | text
header_text = st.text(alphabet=st.characters(max_codepoint=0xFF, blacklist_characters="\r\n"),
                      max_size=60)


@dataclass
class Target:
    """One route and method, with the path segment values worth trying."""

    rule: str
    method: str
    arguments: dict[str, list[str]] = field(default_factory=dict)

    def path(self, values: dict[str, str]) -> str:
        return re.sub(r"<(?:[^:<>]+:)?([^<>]+?)>",
                      lambda m: quote(values[m.group(1)], safe=""), self.rule)


def _targets(app, known: dict[str, list[str]]) -> list[Target]:
    """Every (rule, method) of the URL map, with candidate values for its path segments."""
    targets = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        arguments = {}
        for name, converter in rule._converters.items():
            choices = list(getattr(converter, "items", None) or ())
            arguments[name] = choices + known.get(name, []) + ["1"]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            targets.append(Target(rule.rule, method, arguments))
    return targets


# Destructive routes (logging the fuzzing browser out) go last.
LAST = ("/account/logout", "/account/sessions/logout-all", "/helpdesk/logout", "/logout")


class Fuzzer:
    """One browser, logged in every way, sending generated requests and checking answers."""

    def __init__(self, app, settings_, make_account, make_portal, new_staff) -> None:
        self.app, self.settings = app, settings_
        app.config["WTF_CSRF_ENABLED"] = False  # values must reach the views, not the CSRF check
        self.portal = make_portal()
        self.account_id, self.person = make_account()
        self.new_staff = new_staff
        self.requests = self.restarts = 0
        self.answers: Counter = Counter()
        self.failures: list[str] = []
        self.login()

    def login(self) -> None:
        """A citizen's SSO session, a staff session, and two logins in progress (a new staff
        member each time: the fuzzing may have reset the last one's TOTP key)."""
        self.staff = self.new_staff("helpdesk", "registrar", "supervisor", "auditor", "admin")
        console = Console(self.app, self.staff).login()
        self.browser = console.client
        Flow(self.browser, self.settings, self.portal).login(self.person)
        self.start_flows()

    def start_flows(self) -> None:
        """One login at the code step (its SMS code known), one at the password step (in
        that order: passing the password moves the browser to a new id), a password reset
        and a registration, all in this browser (`tx`, `f`, `r`)."""
        flow = Flow(self.browser, self.settings, self.portal)
        response, *_ = flow.authorize(prompt="login")
        location = response.headers["Location"]
        self.otp_tx = query(location)["tx"]
        flow.submit_password(location, self.person.cccd, self.person.password)
        self.code = last_otp(self.settings)
        response, *_ = flow.authorize(prompt="login")
        self.fresh_tx = query(response.headers["Location"])["tx"]
        response = self.browser.post("/forgot", data={"cccd": self.person.cccd,
                                                      **self._captcha("/forgot")})
        self.reset_id = query(response.headers["Location"])["f"]
        person = load_fixtures().one("carrier: full match")
        response = self.browser.post("/register/mobile", data={
            **person.form(), **self._captcha("/register/mobile")})
        self.registration_id = query(response.headers["Location"])["r"]

    def _captcha(self, path: str) -> dict[str, str]:
        html = self.browser.get(path).get_data(as_text=True)
        captcha_id = re.search(r'name="captcha_id" value="([^"]+)"', html).group(1)
        with self.app.app_context():
            answer = self.app.extensions["idp.provider"].state.get(f"captcha:{captcha_id}")
        return {"captcha_id": captcha_id, "captcha": answer["answer"]}

    def flows_alive(self) -> bool:
        """Whether the flows in progress are still this browser's (a right password or code
        among the fuzzed values moves the browser to a new id, or ends a step)."""
        state = self.app.extensions["idp.provider"].state
        cookie = self.browser.get_cookie("__Host-idp_browser", domain="sso.test")
        with self.app.app_context():
            records = [state.get(key) for key in (
                f"tx:{self.otp_tx}", f"tx:{self.fresh_tx}", f"fp:{self.reset_id}",
                f"reg:{self.registration_id}")]
        return (cookie is not None
                and all(r is not None and r["browser"] == cookie.value for r in records)
                and records[0]["authenticated"] is None
                and records[0]["pending_account_id"] is not None)

    def restart_flows(self) -> None:
        self.restarts += 1
        self.start_flows()

    def known(self) -> dict[str, list[str]]:
        """Valid values for each name, sent along with the hostile ones so that requests get
        past the early checks (a missing tx, client or redirect URI) to the code behind."""
        return {
            "tx": [self.otp_tx, self.fresh_tx], "client_id": [self.portal.client_id],
            "f": [self.reset_id], "r": [self.registration_id],
            "redirect_uri": [self.portal.redirect_uri], "response_type": ["code"],
            "scope": ["openid profile"], "code_challenge_method": ["S256"],
            "code_challenge": ["E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuz-w7cQ-cM"],
            "cccd": [self.person.cccd], "password": [self.person.password],
            "otp": [self.code], "account_id": [str(self.account_id)],
            "member_id": [str(self.staff.id)], "phone_id": ["1"], "grant_type":
            ["authorization_code", "refresh_token"], "decision": ["allow"],
        }

    def still_logged_in(self) -> bool:
        return (self.browser.get("/account").status_code == 200
                and self.browser.get("/helpdesk/").status_code == 200)

    def send(self, target: Target, path_values: dict, params: dict, headers: dict) -> None:
        path = target.path(path_values)
        kwargs = {"headers": headers}
        if target.method == "GET":
            kwargs["query_string"] = params
        else:
            kwargs["data"] = params
        response = self.browser.open(path, method=target.method, **kwargs)
        self.requests += 1
        self.answers[(target.rule, response.status_code)] += 1
        if response.status_code >= 500:
            self.failures.append(f"{target.method} {path} {params!r} {headers!r} → "
                                 f"{response.status_code}")

    def fuzz(self, target: Target) -> None:
        known = self.known()
        names = st.sampled_from(NAMES)

        @examples(max_examples=EXAMPLES_PER_ROUTE, deadline=None, derandomize=True,
                  database=None, suppress_health_check=list(HealthCheck))
        @given(
            path_values=st.fixed_dictionaries(
                {name: st.sampled_from(choices) | st.sampled_from(HOSTILE) | text
                 for name, choices in target.arguments.items()}),
            picks=st.fixed_dictionaries({name: st.sampled_from(values)
                                         for name, values in known.items()}),
            dropped=st.lists(st.sampled_from(sorted(known)), max_size=6, unique=True),
            bad=st.dictionaries(names, hostile, max_size=5),
            # Mostly the browser's own cookies and host, so the values reach logged-in code.
            headers=st.just({}) | st.fixed_dictionaries({}, optional={
                "Authorization": st.sampled_from(BAD_AUTHORIZATION) | header_text.map(
                    lambda v: "Basic " + v),
                "Content-Type": st.sampled_from(["application/json", "text/plain",
                                                 "multipart/form-data"]),
                "Accept-Language": header_text,
                "DPoP": header_text,
            }) | st.fixed_dictionaries({}, optional={
                "Host": st.sampled_from(["evil.example", "sso.test:99999", "", "a b"]),
                "X-Forwarded-Host": st.just("evil.example"),
                "Cookie": header_text.map(lambda v: "idp_browser=" + v),
            }),
        )
        def one(path_values, picks, dropped, bad, headers):
            params = {name: value for name, value in picks.items() if name not in dropped}
            params.update(bad)
            self.send(target, path_values, params, headers)

        one()

    def replay_corpus(self) -> None:
        """Every request that ever broke something, with `{tx}`-style placeholders filled."""
        fill = {"tx": self.otp_tx, "client_id": self.portal.client_id,
                "basic": basic(self.portal)}
        for entry in json.loads(CORPUS.read_text(encoding="utf-8")):
            target = Target(entry["path"], entry["method"])
            params = {k: v.format(**fill) for k, v in entry.get("params", {}).items()}
            headers = {k: v.format(**fill) for k, v in entry.get("headers", {}).items()}
            self.send(target, {}, params, headers)


@pytest.fixture
def settings(settings_for, simulators, usb_pki, mssp, overrides):  # noqa: F811
    """Every login method on: the registries, the test PKI (USB tokens) and the MSSP (SIM
    signatures), so their routes are fuzzed past "not offered here"."""
    sections: dict[str, dict] = {name: {"url": sim.url} for name, sim in simulators.items()}
    sections["usb_token"] = usb_pki.usb_token_settings()
    sections["mssp"] = {"url": mssp.url, "api_key": MSSP_KEY, "poll_ms": 100}
    for name, values in overrides.items():
        sections[name] = {**sections.get(name, {}), **values}
    return settings_for(**sections)


@pytest.fixture
def fuzzer(app, settings, make_account, make_portal, make_staff):  # noqa: F811
    return Fuzzer(app, settings, make_account, make_portal, make_staff)


# The fuzzing browser restarts its logins, resets and registrations from one address, for
# one CCCD and phone, far more often than a person: lift the caps it would meet.
LIFTED = {name: "1000000 per day" for name in (
    "reset.starts.address", "sms.reset.cccd", "sms.register.cccd", "sms.register.phone",
    "sms.register.address", "sms.login.phone", "sms.login.phone_daily", "sms.login.address",
    "login.attempts.address", "login.failures.cccd", "login.failures.device",
    "login.failures.address", "register.checks.address", "register.checks.cccd")}


@config(limits=LIFTED)
def test_every_route_survives_hostile_input(fuzzer, caplog, backend):
    """Every route of the URL map, with generated hostile values in each parameter, path
    segment and header: no 5xx, no traceback; the corpus first."""
    started = time.monotonic()
    caplog.set_level(logging.ERROR)
    fuzzer.replay_corpus()
    targets = _targets(fuzzer.app, fuzzer.known())
    targets.sort(key=lambda t: t.rule in LAST)
    for target in targets:
        if not fuzzer.flows_alive():
            fuzzer.restart_flows()
        fuzzer.fuzz(target)
        if target.rule not in LAST and not fuzzer.still_logged_in():
            fuzzer.login()
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info]
    seconds = time.monotonic() - started
    print(f"\nfuzz[{backend}]: {fuzzer.requests} requests on {len(targets)} routes "
          f"in {seconds:.1f} s ({fuzzer.restarts} restarts of the flows in progress)")
    assert not fuzzer.failures, "\n".join(fuzzer.failures[:40])
    assert not tracebacks, tracebacks[:10]
    # Every route of the URL map answered requests (a new route is covered by being there).
    assert {rule for rule, _ in fuzzer.answers} >= {r.rule for r in fuzzer.app.url_map.iter_rules()}
