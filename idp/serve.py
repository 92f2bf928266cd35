"""Running the provider under gunicorn.

Sizing rule: one worker process per core, a few threads per worker (requests
mostly wait on the database, Redis or argon2id, which releases the GIL), and a
database pool of `threads` connections per worker.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from gunicorn.app.base import BaseApplication

from idp.config import Settings


class WsgiServer(BaseApplication):
    """gunicorn serving the app `load()` builds (in each worker), with `options`."""

    def __init__(self, load: Callable[[], Callable], options: dict) -> None:
        self._load = load
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Callable:
        return self._load()


def gunicorn_options(host: str, port: int, workers: int, threads: int) -> dict:
    """The gunicorn settings of `idp serve` (the benchmark's Flask "hello" uses them too)."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "accesslog": None,
        "errorlog": "-",
        "graceful_timeout": 10,
        "timeout": 30,
        "keepalive": 5,
        # The control socket lives at a fixed path: two instances on one host would clash.
        "control_socket_disable": True,
    }


def _create_app(settings: Settings):
    """The app of one worker, with its back-channel logout dispatcher running."""
    from idp import create_app
    from idp.oidc.backchannel import start_dispatcher

    app = create_app(settings)
    start_dispatcher(app)
    return app


def _worker_exited(_server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
_OWN_METRICS_DIR = "IDP_OWN_METRICS_DIR"
"""Set (to the directory) when `idp serve` made the metrics directory and must remove it."""


def _restart_with_metrics_dir() -> NoReturn:
    """Start this command again in a fresh interpreter with PROMETHEUS_MULTIPROC_DIR set.

    prometheus-client chooses between in-process values and per-process files once, when
    it is imported, and `idp` imports it long before `serve` runs (idp/__init__ → … →
    ops/metrics). Set later, the variable is ignored: every worker keeps its counters to
    itself and /metrics, which reads the directory, answers nothing. The library's own
    advice is to set it before Python starts, so that is what this does (same pid: a
    supervisor keeps tracking the process).
    """
    directory = tempfile.mkdtemp(prefix="idp-metrics-")
    os.environ[METRICS_DIR] = os.environ[_OWN_METRICS_DIR] = directory
    os.execv(sys.executable, [sys.executable, "-m", "idp.cli", *sys.argv[1:]])  # noqa: S606


def _prepare_metrics_dir() -> str | None:
    """The metrics directory, emptied of a previous run's files (they would be added to
    this run's counters); None when the directory is still to be made (see above)."""
    directory = os.environ.get(METRICS_DIR)
    if not directory:
        return None
    if os.environ.get(_OWN_METRICS_DIR) != directory:
        # The operator's directory (e.g. set in the systemd unit): keep it, drop old files.
        for stale in Path(directory).glob("*.db"):
            stale.unlink()
    return directory


def run(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    """Serve until stopped."""
    directory = _prepare_metrics_dir()
    if directory is None:
        _restart_with_metrics_dir()
    from idp.ops.logs import configure_logging

    configure_logging(settings.logging.format, settings.logging.level)
    options = gunicorn_options(host, port, workers, threads)
    options["child_exit"] = _worker_exited
    master = os.getpid()
    try:
        WsgiServer(lambda: _create_app(settings), options).run()
    finally:
        # Forked workers leave through here too; only the master owns the directory.
        if os.getpid() == master and os.environ.get(_OWN_METRICS_DIR) == directory:
            shutil.rmtree(directory, ignore_errors=True)
