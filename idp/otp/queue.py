"""SMS work taken off the request path: a queue in the state store, drained by a thread.

Where the time an answer takes must not tell a known CCCD from an unknown one (forgot
password), the request only enqueues a job, the same job for both; looking up the phone,
making the code and calling the SMS gateway connector happen in the drain, after the
answer. Jobs live in the state store (SQL or Redis, shared by every node), so a job queued
on one node can be sent by any; `take` hands each job to exactly one drainer. A job is
sent at most once: one lost in a crash between `take` and the gateway's answer is a code
the citizen asks again ("Gửi lại OTP").

Each process runs one daemon thread, woken by every enqueue and every `SWEEP_SECONDS`
(for jobs another node queued and did not drain). Tests drain after each request instead
(`drain`), so they read the outbox as before.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable

from flask import Flask, Response, after_this_request, current_app, has_request_context

log = logging.getLogger(__name__)

QUEUE_KEY = "smsq"
JOB_TTL = 900
"""A job older than this is dropped: its code would be useless by then."""
SWEEP_SECONDS = 1.0

Handler = Callable[[dict], None]
_handlers: dict[str, Handler] = {}


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that carries out jobs of `kind` (within an app and request
    context, with the job's fields)."""

    def register(handler: Handler) -> Handler:
        _handlers[kind] = handler
        return handler

    return register


class SmsQueue:
    """The queue of one provider app; `enqueue` from views, drained by a thread."""

    def __init__(self, app: Flask, *, background: bool = True) -> None:
        self.app = app
        self.background = background
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread_pid: int | None = None

    @property
    def _state(self):
        return self.app.extensions["idp.provider"].state

    def enqueue(self, kind: str, **job) -> None:
        """Queue one job; the same cost whatever the job will find to do."""
        job_id = secrets.token_urlsafe(12)
        self._state.put(f"{QUEUE_KEY}:{job_id}", {"kind": kind, **job}, JOB_TTL)
        self._state.add_member(QUEUE_KEY, job_id, JOB_TTL)
        if not self.background:
            return
        self._ensure_thread()
        if not has_request_context():
            self._wake.set()
            return

        # Woken once the answer has left (the server closes the response), never while
        # this request still runs: the drain would slow its answer down, and only when a
        # code is really sent.
        @after_this_request
        def wake_after_answer(response: Response) -> Response:
            response.call_on_close(self._wake.set)
            return response

    def drain(self) -> int:
        """Carry out every queued job (each taken by one drainer only); how many ran."""
        ran = 0
        with self._lock:  # one drain at a time per process; a flush waits for the thread's
            for job_id in self._state.members(QUEUE_KEY):
                job = self._state.take(f"{QUEUE_KEY}:{job_id}")
                self._state.remove_member(QUEUE_KEY, job_id)
                if job is not None:
                    self._run(job)
                    ran += 1
        return ran

    def _run(self, job: dict) -> None:
        handler = _handlers.get(job.pop("kind", ""))
        if handler is None:
            log.error("SMS queue: a job of unknown kind was dropped")
            return
        # A request context of its own: the audit trail records the citizen's address.
        with self.app.test_request_context(environ_base={"REMOTE_ADDR": job.get("ip") or ""}):
            try:
                handler(job)
            except Exception:  # one bad job must not stop the others
                log.exception("SMS queue: a job failed")

    def _ensure_thread(self) -> None:
        # Started lazily, in the process that serves (after gunicorn forked its workers).
        if self._thread_pid == os.getpid():
            return
        self._thread_pid = os.getpid()
        threading.Thread(target=self._loop, name="sms-queue", daemon=True).start()

    def _loop(self) -> None:
        while True:
            self._wake.wait(SWEEP_SECONDS)
            self._wake.clear()
            try:
                self.drain()
            except Exception:  # the state store is down: try again at the next wake
                log.warning("SMS queue: drain failed; retrying", exc_info=True)


def sms_queue() -> SmsQueue:
    """The SMS queue of the current app."""
    return current_app.extensions["idp.sms_queue"]
