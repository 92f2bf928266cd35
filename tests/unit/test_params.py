"""Parameter parsing (idp/params.py): ASCII digits only, ids in range, RFC 6749 Basic."""

from __future__ import annotations

import base64

import pytest

from idp.params import ID_MAX, basic_credentials, page_number, parse_id, parse_number


@pytest.mark.parametrize("text", ["²", "１２", "١٢", "½", "Ⅻ", "𝟗", "-1", "+1", " 1", "1 ",
                                  "1e3", "0x1", "", None, "1\x00", "9" * 40])
def test_numbers_are_ascii_digits_only(text):
    assert parse_number(text, maximum=10**12) is None
    assert parse_id(text) is None
    assert page_number(text) == 1


def test_ranges():
    assert parse_number("0", maximum=5) == 0
    assert parse_number("5", maximum=5) == 5
    assert parse_number("6", maximum=5) is None
    assert parse_number("007", maximum=1000) == 7
    assert parse_id("0") is None
    assert parse_id(str(ID_MAX)) == ID_MAX
    assert parse_id(str(ID_MAX + 1)) is None
    assert parse_id(str(2**63)) is None
    assert page_number("3") == 3


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def test_basic_credentials_decoded_as_rfc_6749_says():
    assert basic_credentials(_basic(b"portal-a:s3cret")) == ("portal-a", "s3cret")
    # §2.3.1: each part form-urlencoded first, so ':' and non-ASCII survive.
    assert basic_credentials(_basic(b"c%C3%B4ng:a%3Ab+c")) == ("công", "a:b c")
    assert basic_credentials("basic " + base64.b64encode(b"a:b").decode()) == ("a", "b")


@pytest.mark.parametrize("header", [
    None, "", "Basic", "Basic ", "Bearer abc", "Basic !!!", "Basic Zm9v",  # no colon
    _basic(b":secret"), _basic(b"id:"), _basic("ê:é".encode("latin-1")),  # not UTF-8
    "Basic w6k6w6k=\x00", "Basic " + "é" * 8, "Basic " + "QQ" * 3000,
    _basic(b"id%00:secret"),
])
def test_malformed_basic_credentials_are_refused(header):
    assert basic_credentials(header) is None
