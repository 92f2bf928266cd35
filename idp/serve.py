"""Running the provider under gunicorn.

Sizing rule: one worker process per core, a few threads per worker (requests
mostly wait on the database, Redis or argon2id, which releases the GIL), and a
database pool of `threads` connections per worker.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable

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
    # Imported here, in the worker: prometheus_client picks its multiprocess mode at import,
    # after run() has set PROMETHEUS_MULTIPROC_DIR.
    from idp import create_app

    return create_app(settings)


def _worker_exited(_server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def run(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    """Serve until stopped."""
    from idp.ops.logs import configure_logging

    configure_logging(settings.logging.format, settings.logging.level)
    # Workers are processes: /metrics adds up their files in this directory.
    metrics_dir = tempfile.mkdtemp(prefix="idp-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    options = gunicorn_options(host, port, workers, threads)
    options["child_exit"] = _worker_exited
    master = os.getpid()
    try:
        WsgiServer(lambda: _create_app(settings), options).run()
    finally:
        # Forked workers leave through here too; only the master owns the directory.
        if os.getpid() == master:
            shutil.rmtree(metrics_dir, ignore_errors=True)
