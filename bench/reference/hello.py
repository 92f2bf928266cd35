"""A bare Flask "hello" under gunicorn with the provider's own gunicorn settings
(idp/serve.py): the floor for what one request costs through gunicorn + Flask.

    .venv/bin/python bench/reference/hello.py PORT WORKERS THREADS
"""

from __future__ import annotations

import sys

from flask import Flask
from gunicorn.app.base import BaseApplication

app = Flask(__name__)


@app.get("/hello")
def hello():
    return "hello"


class HelloServer(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return app


if __name__ == "__main__":
    port, workers, threads = (int(x) for x in sys.argv[1:4])
    # The same options as idp/serve.py's run(), minus the metrics hook.
    HelloServer({
        "bind": f"127.0.0.1:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "accesslog": None,
        "errorlog": "-",
        "graceful_timeout": 10,
        "timeout": 30,
        "keepalive": 5,
        "control_socket_disable": True,
    }).run()
