"""Running a simulator app on werkzeug's threaded server in a background thread."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

from flask import Flask
from werkzeug.serving import make_server


class RunningSimulator:
    """A simulator listening on `url` until `stop()`; a context manager too."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0) -> None:
        # Threaded, so a deliberately slow answer does not hold up the control endpoint.
        self._server = make_server(host, port, app, threaded=True)
        self.url = f"http://{host}:{self._server.server_port}"
        # A short poll interval makes stop() quick; tests stop simulators often.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"simulator {self.url}", daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening; afterwards connections to `url` are refused."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start(app: Flask, host: str = "127.0.0.1", port: int = 0) -> RunningSimulator:
    """Serve `app` on host:port (0 = any free port) in a daemon thread."""
    return RunningSimulator(app, host, port)
