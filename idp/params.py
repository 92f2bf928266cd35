"""Parsing of request parameters that carry numbers, ids and client credentials.

One place for it, so that no view meets `int()` on text that `str.isdigit()` accepted
('²', full-width or Arabic-Indic digits) or on a number no database column can hold.
Every parser answers None for malformed input; the caller turns that into its own
Vietnamese 400 page or RFC error.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from werkzeug.routing import BaseConverter, ValidationError

ID_MAX = 2**31 - 1
"""Largest id accepted: PostgreSQL's INTEGER (ids are BIGINT there, INTEGER in SQLite, so
this is the range every backend holds with room to spare for any real table)."""


def parse_number(value: str | None, *, maximum: int, minimum: int = 0) -> int | None:
    """`value` as an integer in [minimum, maximum] when it is ASCII digits only, else None."""
    if not value or len(value) > len(str(maximum)) or not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if minimum <= number <= maximum else None


def parse_id(value: str | None) -> int | None:
    """A row id (1 … ID_MAX) written in ASCII digits, else None."""
    return parse_number(value, minimum=1, maximum=ID_MAX)


def page_number(value: str | None, last: int = 100_000) -> int:
    """A page number from a query string; 1 when absent or malformed."""
    return parse_number(value, minimum=1, maximum=last) or 1


def is_protocol_text(value: str) -> bool:
    """Printable ASCII without '"' or '\\': what RFC 6749 §4.1.2.1 allows in an
    error_description, which Authlib may quote such a parameter in."""
    return all(" " <= char <= "~" and char not in '"\\' for char in value)


class IdConverter(BaseConverter):
    """`<int:…>` in routes: ASCII digits within the id range; anything else is a 404, not a
    value the database cannot hold."""

    regex = r"[0-9]{1,10}"
    part_isolating = True

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise ValidationError()
        return number

    def to_url(self, value: int) -> str:
        return str(int(value))


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """The client id and secret of an HTTP Basic `Authorization` header, decoded as RFC 6749
    §2.3.1 says: base64 of UTF-8 `id:secret`, each part form-urlencoded. None when the header
    is not Basic or is malformed (bad base64, not UTF-8, no colon, empty parts)."""
    if not header or len(header) > 4096:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token.strip().isascii():
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None
    client_id, secret = unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))
    if not client_id or not secret or "\x00" in client_id + secret:
        return None
    return client_id, secret
