"""Logins and refreshes kept going against provider nodes while a test breaks something,
with every outcome on a timeline: what succeeded, and how each failure looked to the
browser or the portal (the fail-closed 503 page or `temporarily_unavailable`, or else)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import requests

from tests.live import LiveProvider, LoginStepFailed, RegisteredPortal, http_login

UNAVAILABLE_PAGE = "Hệ thống tạm thời gián đoạn"


@dataclass(frozen=True)
class Outcome:
    at: float
    """time.monotonic() when the answer came."""
    kind: str
    """login or refresh."""
    ok: bool
    status: int = 200
    detail: str = ""

    @property
    def failed_closed(self) -> bool:
        """A refusal that says "try again later": the 503 page or the RFC error."""
        return self.status == 503 and ("temporarily_unavailable" in self.detail
                                       or UNAVAILABLE_PAGE in self.detail)


def _failure(kind: str, response: requests.Response, step: str = "") -> Outcome:
    body = response.text[:2000]
    return Outcome(time.monotonic(), kind, False, response.status_code, f"{step} {body}")


@dataclass
class Chain:
    """One portal's refresh-token chain: the last token it holds, and its history."""

    refresh_token: str
    acknowledged: list[str] = field(default_factory=list)
    """Every refresh token a 200 answer gave the portal (the first from the login)."""
    ended: Outcome | None = None
    """The answer that ended the chain (invalid_grant), if one did."""


class Traffic:
    """`users` virtual users, each logging in (a fresh browser), refreshing `refreshes`
    times, and again, round-robin over `nodes`, until `stop()`."""

    def __init__(self, nodes: list[str], portal: RegisteredPortal, provider: LiveProvider,
                 people: list, refreshes: int = 4, think: float = 0.05) -> None:
        self.nodes, self.portal, self.provider = nodes, portal, provider
        self.people, self.refreshes, self.think = people, refreshes, think
        self.outcomes: list[Outcome] = []
        self.chains: list[Chain] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._user, args=(n,), daemon=True)
                         for n in range(len(people))]

    def start(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _record(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def _node(self, turn: int) -> str:
        return self.nodes[turn % len(self.nodes)]

    def _user(self, index: int) -> None:
        person, turn = self.people[index], index
        while not self._stop.is_set():
            turn += 1
            try:
                tokens = http_login(self._node(turn), self.portal, person.cccd,
                                    person.password, lambda p=person: self.provider.last_otp(
                                        p.phone))
            except LoginStepFailed as failed:
                self._record(_failure("login", failed.response, failed.step))
                self._stop.wait(0.3)
                continue
            self._record(Outcome(time.monotonic(), "login", True))
            chain = Chain(tokens["refresh_token"], [tokens["refresh_token"]])
            with self._lock:
                self.chains.append(chain)
            for _ in range(self.refreshes):
                if self._stop.wait(self.think):
                    return
                turn += 1
                self.refresh(chain, self._node(turn))
                if chain.ended:
                    break

    def refresh(self, chain: Chain, node: str, *, retries: int = 40) -> None:
        """One refresh as a careful portal does it: a 503 is retried with the same token."""
        for _ in range(retries):
            response = requests.post(node + "/token", timeout=15, data={
                "grant_type": "refresh_token", "refresh_token": chain.refresh_token},
                auth=(self.portal.client_id, self.portal.secret))
            if response.status_code == 200:
                chain.refresh_token = response.json()["refresh_token"]
                chain.acknowledged.append(chain.refresh_token)
                self._record(Outcome(time.monotonic(), "refresh", True))
                return
            outcome = _failure("refresh", response)
            self._record(outcome)
            if response.status_code != 503:
                chain.ended = outcome
                return
            time.sleep(0.25)

    def summary(self, since: float = 0.0) -> dict[str, int]:
        """Counts of successes and failures per kind, of outcomes after `since`."""
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            if outcome.at >= since:
                key = f"{outcome.kind} {'ok' if outcome.ok else outcome.status}"
                counts[key] = counts.get(key, 0) + 1
        return counts
