"""Fixtures of the key tests (software keys and the PKCS#11 backend share them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from idp.store.models import Base
from tests.clock import Clock


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    # A file, not :memory:, so the ring's sessions see what the test's sessions wrote.
    engine = create_engine(f"sqlite:///{tmp_path / 'keys.sqlite3'}")
    Base.metadata.create_all(engine)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()
