"""Outbox files: one JSON line per message, for development, the demo and the tests.

The file is locked while a line is written, so several workers can share it.
"""

from __future__ import annotations

import fcntl
import json
import time
from pathlib import Path

from connectors.base import ConnectorUnavailable


class Outbox:
    """An append-only JSON-lines file of messages."""

    def __init__(self, path: str | Path, system: str) -> None:
        self.path = Path(path)
        self.system = system
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, message: dict) -> None:
        """Add one message (with the time it was sent)."""
        line = json.dumps({"at": time.time(), **message}, ensure_ascii=False)
        try:
            with self.path.open("a", encoding="utf-8") as outbox:
                fcntl.flock(outbox, fcntl.LOCK_EX)
                outbox.write(line + "\n")
        except OSError as exc:
            raise ConnectorUnavailable(f"cannot write {self.system} outbox: {exc}",
                                       system=self.system) from exc


def read_outbox(path: str | Path) -> list[dict]:
    """Every message in an outbox file, oldest first."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
