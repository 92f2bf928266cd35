"""The table of signing keys, which this package owns.

The provider's own models share its metadata (idp.store.models.Base), so one migration
history and one `create_all` hold every table.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    """Now, in UTC, as every timestamp column stores it."""
    return datetime.now(UTC)


class KeyTables(DeclarativeBase):
    """The declarative base of this package's table (and the metadata idp's tables join)."""

    type_annotation_map = {datetime: DateTime(timezone=True)}


class SigningKey(KeyTables):
    """A token-signing key and where it is in its life (next, current, retired)."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(8))
    backend: Mapped[str] = mapped_column(String(16), default="software")
    private_key: Mapped[str] = mapped_column(Text)
    """Encrypted PKCS#8 PEM (software) or the key label inside the HSM (pkcs11)."""
    public_jwk: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column()
    retired_at: Mapped[datetime | None] = mapped_column()
    unpublish_at: Mapped[datetime | None] = mapped_column()
    """When a retired key leaves the JWKS: after every token it signed has expired."""
