"""A bare Flask "hello" under gunicorn with the provider's own gunicorn settings
(idp/serve.py): the floor for what one request costs through gunicorn + Flask.

    .venv/bin/python bench/reference/hello.py PORT WORKERS THREADS
"""

from __future__ import annotations

import sys

from flask import Flask

from idp.serve import WsgiServer, gunicorn_options

app = Flask(__name__)


@app.get("/hello")
def hello():
    return "hello"


if __name__ == "__main__":
    port, workers, threads = (int(x) for x in sys.argv[1:4])
    # The same options as `idp serve`, minus the metrics hook.
    WsgiServer(lambda: app, gunicorn_options("127.0.0.1", port, workers, threads)).run()
