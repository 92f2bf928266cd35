"""The soak's virtual users (bench/soak.py): each logs in through the real pages as a
browser, refreshes and calls userinfo for a while, logs out, and again, with a short random
think time between requests; and what they record, window by window."""

from __future__ import annotations

import argparse
import random
import threading
import time

from bench import log
from bench.servers import BenchProvider
from tests.live import RegisteredPortal

KINDS = ("login", "refresh", "userinfo", "logout")
POST_LOGOUT = "http://127.0.0.1:9/logged-out"  # never contacted: the redirect is only checked
FIRST_ERRORS = 10  # error messages kept

NAMES = ["Nguyễn Văn An", "Trần Minh Khoa", "Lê Hoàng Nam", "Phạm Quốc Bảo", "Hoàng Đức Long",
         "Vũ Thanh Tùng", "Đặng Hữu Phúc", "Bùi Gia Huy"]


def person(index: int) -> dict:
    """A valid citizen: CCCD 001 (Hà Nội), century digit 0 = a man born in the 1900s, year 85
    (so born 1985), then 6 digits; a Vinaphone mobile number of its own."""
    return {"cccd": f"001085{900001 + index:06d}", "full_name": NAMES[index % len(NAMES)],
            "birthdate": "1985-03-15", "gender": "male", "phone": f"+849112{46000 + index:05d}",
            "email": f"soak{index}@example.vn"}



class Recorder:
    """Latencies and errors of the current window, shared by the virtual users."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
        self.errors: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.first_errors: list[dict] = []
        self.error_times: list[tuple[float, str]] = []
        self.acknowledged: list[str] = []
        """Every refresh token a 200 answer gave (the fault soak checks none was lost)."""
        self.logins = 0
        self.http_requests = 0
        self.started = time.monotonic()

    def ok(self, kind: str, seconds: float, http_requests: int = 1) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            self.http_requests += http_requests

    def acknowledge(self, refresh_token: str, login: bool = False) -> None:
        with self.lock:
            self.acknowledged.append(refresh_token)
            self.logins += login

    def error(self, kind: str, message: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            self.error_times.append((time.monotonic(), kind))
            if len(self.first_errors) < FIRST_ERRORS:
                self.first_errors.append({"kind": kind, "at_s": round(
                    time.monotonic() - self.started, 1), "message": message[:500]})
        log(f"  ERROR {kind}: {message[:300]}")

    def take(self) -> tuple[dict[str, list[float]], dict[str, int], int]:
        """This window's latencies, errors and HTTP request count; starts the next window."""
        with self.lock:
            taken = self.latencies, self.errors, self.http_requests
            self.latencies = {kind: [] for kind in KINDS}
            self.errors = dict.fromkeys(KINDS, 0)
            self.http_requests = 0
        return taken



class Failed(Exception):
    """An unexpected answer: counted as an error of the request's kind."""


def virtual_user(index: int, provider: BenchProvider, portal: RegisteredPortal,
                 args: argparse.Namespace, recorder: Recorder, stop: threading.Event) -> None:
    """Log in, refresh + userinfo for a while, log out, again; until `stop`."""
    import requests

    from idp.sessions import SESSION_COOKIE

    who = person(index)
    base = provider.issuer
    api = requests.Session()  # the portal's back end, for the token and userinfo calls

    def pause() -> bool:
        """Think time (random, so users do not march in step); True when it is time to stop."""
        return stop.wait(random.uniform(0.5, 1.5) * args.think)

    def timed(kind: str, method: str, path: str, **kwargs) -> requests.Response:
        t0 = time.perf_counter()
        response = api.request(method, base + path, timeout=30, allow_redirects=False, **kwargs)
        seconds = time.perf_counter() - t0
        if response.status_code != 200:
            raise Failed(f"{method} {path} -> {response.status_code}: {response.text[:300]}")
        recorder.ok(kind, seconds)
        return response

    def cycle() -> None:
        browser = requests.Session()  # a fresh browser: no SSO session yet
        try:
            kind = "login"
            done = provider.login(portal, cccd=who["cccd"], phone=who["phone"],
                                  browser=browser)
            recorder.ok("login", done.seconds, done.requests)
            if browser.cookies.get(SESSION_COOKIE) is None:
                raise Failed("no SSO session cookie after the login")
            tokens = done.tokens
            # A portal keeps the login's ID token for the logout: it carries the SSO
            # session's `sid`, which the provider matches to log out without asking
            # (idp/oidc/end_session.py). A refreshed ID token of an offline_access grant
            # has no `sid` (the grant outlives the session), so as a hint it would get the
            # confirmation page.
            login_id_token = tokens["id_token"]
            recorder.acknowledge(tokens["refresh_token"], login=True)
            for _ in range(args.refreshes):
                for _ in range(args.userinfo):
                    if pause():
                        return
                    kind = "userinfo"
                    claims = timed("userinfo", "GET", "/userinfo", headers={
                        "Authorization": "Bearer " + tokens["access_token"]}).json()
                    if not claims.get("sub"):
                        raise Failed(f"userinfo without sub: {claims}")
                if pause():
                    return
                kind = "refresh"
                fresh = timed("refresh", "POST", "/token", auth=(portal.client_id, portal.secret),
                              data={"grant_type": "refresh_token",
                                    "refresh_token": tokens["refresh_token"]}).json()
                if not {"access_token", "refresh_token", "id_token"} <= fresh.keys():
                    raise Failed(f"refresh answer without the tokens: {sorted(fresh)}")
                if fresh["refresh_token"] == tokens["refresh_token"]:
                    raise Failed("the refresh token was not rotated")
                tokens = fresh
                recorder.acknowledge(tokens["refresh_token"])
            if pause():
                return
            kind = "logout"
            state = f"bye-{random.getrandbits(32):x}"
            t0 = time.perf_counter()
            response = browser.get(base + "/logout", timeout=30, allow_redirects=False, params={
                "id_token_hint": login_id_token, "post_logout_redirect_uri": POST_LOGOUT,
                "state": state})
            seconds = time.perf_counter() - t0
            location = response.headers.get("Location", "")
            if response.status_code != 302 or location != f"{POST_LOGOUT}?state={state}":
                raise Failed(f"logout -> {response.status_code} {location!r}: "
                             f"{response.text[:300]}")
            # The provider clears the cookie only when it ended the browser's SSO session.
            if browser.cookies.get(SESSION_COOKIE) is not None:
                raise Failed("logout redirected but left the SSO session cookie")
            recorder.ok("logout", seconds)
        except Exception as exc:  # any failure is the request's error, then a new cycle
            recorder.error(kind, f"{type(exc).__name__}: {exc}")
            stop.wait(1.0)  # do not spin on a broken provider
        finally:
            browser.close()

    stop.wait(index * args.think)  # staggered start
    while not stop.is_set():
        cycle()
        pause()
    api.close()
