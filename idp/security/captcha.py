"""Captchas: six digits, shown as a picture and spoken in Vietnamese, single use, checked on
the server.

Digits because they can be read out: the spoken version says the same answer as the
picture, in Vietnamese recordings kept in `static/captcha-voice` (made with
`scripts/captcha-voice.sh`). A captcha is only ever asked for after failures (DESIGN §7);
it is never the only way in.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from captcha.audio import AudioCaptcha
from captcha.image import ImageCaptcha

from idp.provider import provider

LENGTH = 6
TTL = 300
VOICE_DIR = Path(__file__).resolve().parent.parent / "static" / "captcha-voice"

_image = ImageCaptcha(width=220, height=70)
_audio = AudioCaptcha(voicedir=str(VOICE_DIR)) if VOICE_DIR.is_dir() else None


def new_captcha() -> str:
    """Create a captcha and return its id; the answer stays on the server."""
    captcha_id = secrets.token_urlsafe(16)
    answer = "".join(secrets.choice("0123456789") for _ in range(LENGTH))
    provider().state.put(f"captcha:{captcha_id}", {"answer": answer}, TTL)
    return captcha_id


def _answer(captcha_id: str) -> str | None:
    if not captcha_id or len(captcha_id) > 64:
        return None
    record = provider().state.get(f"captcha:{captcha_id}")
    return record["answer"] if record else None


def captcha_image(captcha_id: str) -> bytes | None:
    """The PNG for a live captcha, or None."""
    answer = _answer(captcha_id)
    return _image.generate(answer).getvalue() if answer else None


def captcha_audio(captcha_id: str) -> bytes | None:
    """The same answer spoken in Vietnamese (WAV), or None."""
    answer = _answer(captcha_id)
    if answer is None or _audio is None:
        return None
    return bytes(_audio.generate(answer))


def check_captcha(captcha_id: str, answer: str) -> bool:
    """True once for the right answer; any check, right or wrong, uses the captcha up."""
    if not captcha_id or len(captcha_id) > 64 or not answer:
        return False
    record = provider().state.take(f"captcha:{captcha_id}")
    if record is None:
        return False
    typed = "".join(ch for ch in answer if ch.isascii() and ch.isdigit())[: LENGTH * 2]
    return hmac.compare_digest(record["answer"], typed)
