"""A browser's login over HTTP through the provider's pages, as its portal starts and ends
it, every request timed; and the helpers that read its pages (CSRF token, redirects)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests


@dataclass
class RegisteredPortal:
    client_id: str
    secret: str
    base_url: str


def csrf_token(html: str) -> str:
    """The CSRF token of the form in a page."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def query(url: str) -> dict[str, str]:
    """The query parameters of a URL (a redirect's Location), one value each."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


class LoginStepFailed(Exception):
    """A step of a login over HTTP got an answer other than the way to the next step."""

    def __init__(self, step: str, response: requests.Response) -> None:
        super().__init__(f"{step}: {response.status_code} {response.text[:300]}")
        self.step, self.response = step, response


@dataclass
class TimedLogin:
    """A login over HTTP: the token response, and what each request of it took."""

    tokens: dict
    seconds: float
    """From the first request to the token response (reading the OTP included)."""
    steps: list[tuple[str, float]]
    """(method and path, seconds) of every HTTP request, in order."""
    consent: bool
    """Whether the consent page was on the way (the portal's first login of the account)."""

    @property
    def requests(self) -> int:
        return len(self.steps)

    @property
    def password_post(self) -> float:
        """Seconds of the password POST (the argon2id verify is inside)."""
        return next(seconds for label, seconds in self.steps if label == "POST /login")


def timed_http_login(base: str, portal: RegisteredPortal, cccd: str, password: str,
                     read_otp: Callable[[], str], *, browser: requests.Session | None = None,
                     scope: str = "openid profile offline_access", timeout: float = 15,
                     require: tuple[str, ...] = ()) -> TimedLogin:
    """A whole login as a browser and its portal do it, through `base` (one node or the
    load balancer): authorize, password, OTP, consent the first time, code exchange;
    every request timed. A `browser` passed in is left open with its SSO session cookie;
    `require` names members the token response must have. Raises LoginStepFailed at the
    first unexpected answer."""
    own_browser = browser is None
    browser = browser or requests.Session()
    redirect_uri = portal.base_url + "/callback"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    steps: list[tuple[str, float]] = []

    def step(name: str, method: str, url: str, expect: int, **kwargs) -> requests.Response:
        url = urljoin(base + "/", url)
        started = time.perf_counter()
        response = browser.request(method, url, allow_redirects=False, timeout=timeout,
                                   **kwargs)
        steps.append((f"{method} {urlsplit(url).path}", time.perf_counter() - started))
        if response.status_code != expect:
            raise LoginStepFailed(name, response)
        return response

    def redirect(response: requests.Response, name: str, to: str) -> str:
        """Where `response` sends the browser, which must be `to`."""
        if to not in response.headers.get("Location", ""):
            raise LoginStepFailed(name, response)
        return response.headers["Location"]

    try:
        started = time.perf_counter()
        answer = step("authorize", "GET", "/authorize?" + urlencode({
            "response_type": "code", "client_id": portal.client_id,
            "redirect_uri": redirect_uri, "scope": scope, "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8), "code_challenge_method": "S256",
            "code_challenge": challenge.rstrip(b"=").decode(),
        }), 302)
        location = redirect(answer, "authorize", "/login")
        tx = query(location)["tx"]
        page = step("login page", "GET", location, 200)
        answer = step("password", "POST", "/login", 303, data={
            "csrf_token": csrf_token(page.text), "tx": tx, "cccd": cccd, "password": password})
        page = step("otp page", "GET", redirect(answer, "password", "/login/otp"), 200)
        answer = step("otp", "POST", "/login/otp", 303, data={
            "csrf_token": csrf_token(page.text), "tx": tx, "otp": read_otp()})
        # A passed code goes straight on: to the consent page the first time, else to the
        # portal with the authorization code.
        consent = "/consent" in answer.headers["Location"]
        if consent:
            location = answer.headers["Location"]
            page = step("consent page", "GET", location, 200)
            answer = step("consent", "POST", "/consent", 303, data={
                "csrf_token": csrf_token(page.text), "tx": query(location)["tx"],
                "decision": "allow"})
        code = query(redirect(answer, "consent" if consent else "otp", redirect_uri)).get("code")
        if code is None:
            raise LoginStepFailed("consent" if consent else "otp", answer)
        answer = step("token", "POST", "/token", 200, auth=(portal.client_id, portal.secret),
                      data={"grant_type": "authorization_code", "code": code,
                            "redirect_uri": redirect_uri, "code_verifier": verifier})
        tokens = answer.json()
        seconds = time.perf_counter() - started
        if any(member not in tokens for member in require):
            raise LoginStepFailed("token", answer)
        return TimedLogin(tokens, seconds, steps, consent)
    finally:
        if own_browser:
            browser.close()


def http_login(base: str, portal: RegisteredPortal, cccd: str, password: str,
               read_otp: Callable[[], str], *, browser: requests.Session | None = None,
               scope: str = "openid profile offline_access") -> dict:
    """timed_http_login's token response."""
    return timed_http_login(base, portal, cccd, password, read_otp, browser=browser,
                            scope=scope).tokens
