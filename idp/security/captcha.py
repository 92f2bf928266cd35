"""Image captchas, single use and checked on the server."""

from __future__ import annotations

import hmac
import secrets

from captcha.image import ImageCaptcha

from idp.provider import provider

# No 0/O, 1/I/L: a citizen should not fail on glyphs that look alike.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 5
TTL = 300


def new_captcha() -> str:
    """Create a captcha and return its id; the answer stays on the server."""
    captcha_id = secrets.token_urlsafe(16)
    answer = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    provider().state.put(f"captcha:{captcha_id}", {"answer": answer}, TTL)
    return captcha_id


def captcha_image(captcha_id: str) -> bytes | None:
    """The PNG for a live captcha, or None."""
    if not captcha_id or len(captcha_id) > 64:
        return None
    record = provider().state.get(f"captcha:{captcha_id}")
    if record is None:
        return None
    return ImageCaptcha(width=200, height=70).generate(record["answer"]).getvalue()


def check_captcha(captcha_id: str, answer: str) -> bool:
    """True once for the right answer; any check, right or wrong, uses the captcha up."""
    if not captcha_id or len(captcha_id) > 64 or not answer:
        return False
    record = provider().state.take(f"captcha:{captcha_id}")
    if record is None:
        return False
    return hmac.compare_digest(record["answer"], answer.strip().upper()[: LENGTH * 2])
