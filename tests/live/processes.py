"""Servers the tests and benches start as processes: a free port for them, waiting until
they answer, stopping them."""

from __future__ import annotations

import random
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768+), where outgoing connections of
    load generators and other tests cannot take it between this check and the bind."""
    for _ in range(100):
        port = random.randrange(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32000")


def wait_for(url: str, seconds: float = 90, process: subprocess.Popen | None = None,
             log: Path | None = None) -> None:
    """Wait until `url` answers; fail at once with the server's log if it died, and stop a
    server that never answers (so a failed start leaves no process behind).

    The first start in a fresh checkout compiles every module, which on a busy
    two-core machine can take tens of seconds: hence the generous default.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            if process is not None and process.poll() is not None:
                output = log.read_text()[-3000:] if log and log.exists() else ""
                raise RuntimeError(
                    f"server for {url} exited ({process.returncode}):\n{output}") from None
            if time.monotonic() > deadline:
                if process is not None:
                    process.terminate()
                    process.wait(timeout=15)
                raise
            time.sleep(0.2)


def stop_process(process: subprocess.Popen | None, seconds: float = 15) -> None:
    """Stop a server this process started: SIGTERM, then SIGKILL after `seconds`."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
