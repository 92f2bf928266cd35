"""Forgot password: does the answer's time tell a known CCCD from an unknown one?

Posts the forgot-password form (CCCD + captcha) for the CCCD of an account and for a CCCD
with no account, in random order, and prints the median answer time of each and their
difference, measured two ways on the same database (bench/servers.py's BenchProvider: one
account, production argon2 parameters):

- in process: the app's request path alone (Flask test client), the SMS queue drained
  between samples, as the answer has left by then;
- over HTTP: the provider under gunicorn (one sync worker), as a client times it; the code
  of a known CCCD goes out through the SMS queue after the answer, and each sample waits
  for that SMS (then the same pause after either CCCD), so no queued work lands in the
  next sample's time. On a busy machine this figure is the noisier one.

    .venv/bin/python bench/forgot_timing.py                 # SQLite, 40 samples each
    .venv/bin/python bench/forgot_timing.py --database postgresql --samples 100
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/

import requests  # noqa: E402

from bench import log  # noqa: E402
from bench.servers import CCCD, BenchProvider  # noqa: E402

UNKNOWN_CCCD = "001085999999"
PAUSE = 0.1
"""Seconds after each sample's answer (and its SMS, if any) before the next one."""
LIFTED = {"reset.starts.address": "1000000 per hour", "sms.reset.cccd": "1000000 per hour"}


def _form(html: str, answer_of, cccd: str) -> dict:
    captcha_id = re.search(r'name="captcha_id" value="([^"]+)"', html).group(1)
    return {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', html).group(1),
            "captcha_id": captcha_id, "captcha": answer_of(captcha_id), "cccd": cccd}


class InProcessForm:
    """The provider's app in this process: the request path alone, no HTTP."""

    def __init__(self, provider: BenchProvider) -> None:
        from idp import create_app

        self.app = create_app(provider.settings)
        self.queue = self.app.extensions["idp.sms_queue"]
        self.queue.background = False  # drained between samples, outside the timing
        self.state = self.app.extensions["idp.provider"].state

    def post(self, cccd: str) -> float:
        browser = self.app.test_client()
        html = browser.get("/forgot").get_data(as_text=True)
        form = _form(html, lambda captcha: self.state.get(f"captcha:{captcha}")["answer"], cccd)
        started = time.perf_counter()
        response = browser.post("/forgot", data=form)
        elapsed = time.perf_counter() - started
        if response.status_code != 303:
            raise RuntimeError(f"/forgot answered {response.status_code}")
        self.queue.drain()
        return elapsed


class HttpForm:
    """One browser on the forgot-password form of the running provider."""

    def __init__(self, provider: BenchProvider) -> None:
        from idp.store.state import make_state_store

        self.provider = provider
        self.state = make_state_store(provider.settings, provider.engine)
        self.outbox = provider.settings.path(provider.settings.sms.outbox_path)

    def sent(self) -> int:
        return self.outbox.read_text(encoding="utf-8").count("\n") if self.outbox.exists() else 0

    def post(self, cccd: str) -> float:
        """Seconds from sending the form to the whole answer."""
        browser = requests.Session()
        html = browser.get(f"{self.provider.issuer}/forgot", timeout=10).text
        form = _form(html, lambda captcha: self.state.get(f"captcha:{captcha}")["answer"], cccd)
        before = self.sent()
        started = time.perf_counter()
        response = browser.post(f"{self.provider.issuer}/forgot", data=form, timeout=10,
                                allow_redirects=False)
        elapsed = time.perf_counter() - started
        if response.status_code != 303:
            raise RuntimeError(f"/forgot answered {response.status_code}")
        if cccd == CCCD:
            deadline = time.monotonic() + 5
            while self.sent() == before:  # the queued SMS, sent after the answer
                if time.monotonic() > deadline:
                    raise RuntimeError("the reset code never reached the outbox")
                time.sleep(0.002)
        time.sleep(PAUSE)
        return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40, help="per CCCD (default 40)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="idp-forgot-bench-") as directory:
        provider = BenchProvider(Path(directory), workers=1, threads=1, database=args.database,
                                 limits=LIFTED)
        provider.add_account()
        try:
            in_process = measure(InProcessForm(provider), args.samples, args.warmup)
            provider.start()
            over_http = measure(HttpForm(provider), args.samples, args.warmup)
        finally:
            provider.stop()

    log(f"forgot password, {args.database}, {args.samples} samples each (median):")
    worst = 0.0
    for name, times in (("in process", in_process), ("over HTTP", over_http)):
        known = statistics.median(times[CCCD]) * 1000
        unknown = statistics.median(times[UNKNOWN_CCCD]) * 1000
        worst = max(worst, abs(known - unknown))
        print(f"  {name:10}  known CCCD {known:7.3f} ms   unknown CCCD {unknown:7.3f} ms   "
              f"difference {known - unknown:+6.3f} ms")
    print("  target: |difference| < 0.5 ms")
    return 0 if worst < 0.5 else 1


def measure(form, samples: int, warmup: int) -> dict[str, list[float]]:
    """Answer times (seconds) of each CCCD, in random order so drift falls on both alike."""
    for _ in range(warmup):
        form.post(CCCD), form.post(UNKNOWN_CCCD)
    times: dict[str, list[float]] = {CCCD: [], UNKNOWN_CCCD: []}
    for _ in range(samples):
        pair = [CCCD, UNKNOWN_CCCD]
        random.shuffle(pair)
        for cccd in pair:
            times[cccd].append(form.post(cccd))
    return times


if __name__ == "__main__":
    sys.exit(main())
