"""Alembic migrations of the durable schema; run with `idp db upgrade`."""

from pathlib import Path

LOCATION = Path(__file__).resolve().parent
