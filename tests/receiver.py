"""A portal's back-channel logout endpoint for tests: a real HTTP server on 127.0.0.1 that
records every POSTed form and answers `status` (200 unless a test makes it fail)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class Receiver:
    """A tiny HTTP server recording every POSTed form; optionally slow or failing; on a
    given `port` so that a test can stop it and start it again at the same address."""

    def __init__(self, delay: float = 0.0, *, port: int = 0, status: int = 200) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.delay = delay
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode()
                receiver.posts.append((self.path, {k: v[0] for k, v in parse_qs(body).items()}))
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def uri(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, dict]]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.posts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
