"""The IETF Token Status List (draft-ietf-oauth-status-list) at one bit per entry.

Entry `i` is bit `i % 8` (least significant first) of byte `i // 8`; the bytes are
ZLIB-compressed and base64url-encoded as `lst`. A verifier downloads the whole list, so
the provider never learns which credential is being checked.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from idp.sharing.sdjwt import b64url, b64url_decode

VALID = 0
INVALID = 1
"""Revoked: the only other status a share's entry takes."""
TOKEN_TYPE = "statuslist+jwt"
MAX_LIST_BYTES = 2 * 1024 * 1024
"""A list a verifier accepts inflates to at most this (against ZLIB bombs)."""


class MalformedStatusList(ValueError):
    """A status list that cannot be read."""


def encode(size: int, invalid: Iterable[int]) -> dict:
    """The `status_list` claim of a list of `size` entries, those in `invalid` set."""
    raw = bytearray((size + 7) // 8)
    for index in invalid:
        raw[index // 8] |= 1 << (index % 8)
    return {"bits": 1, "lst": b64url(zlib.compress(bytes(raw), 9))}


def status_at(status_list: object, index: int) -> int:
    """The status of entry `index` in a `status_list` claim."""
    if not isinstance(status_list, dict) or status_list.get("bits") != 1:
        raise MalformedStatusList("only 1-bit status lists are read")
    lst = status_list.get("lst")
    if not isinstance(lst, str):
        raise MalformedStatusList("lst is missing")
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(b64url_decode(lst), MAX_LIST_BYTES)
    except (zlib.error, ValueError) as exc:
        raise MalformedStatusList("lst does not inflate") from exc
    if inflater.unconsumed_tail:
        raise MalformedStatusList("status list too large")
    if not 0 <= index < len(raw) * 8:
        raise MalformedStatusList("index outside the list")
    return (raw[index // 8] >> (index % 8)) & 1
