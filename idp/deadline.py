"""Telling people before their time runs out, and letting them ask for more (WCAG 2.2.1).

A login, a registration and a password reset each live a fixed time ([session]
transaction_ttl, [registration] ttl). Their pages carry the deadline; a script warns two
minutes before it, in a box the screen reader reads, with a button that gives the full
time again without leaving the page (what was typed stays), as often as the limit
"time.extensions" allows.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import g, url_for

from idp.provider import provider

WARN_SECONDS = 120


def offer_more_time(expires_at: float, endpoint: str, **params: str) -> None:
    """This page's deadline and where to ask for more time (read by base.html)."""
    g.deadline = {"expires": int(expires_at), "extend": url_for(endpoint, **params),
                  "warn": WARN_SECONDS}


def extend_deadline(record, save: Callable[[object], None], ttl: float) -> tuple[dict, int]:
    """More time for one login, registration or reset (`record` has `id` and `created`):
    its clock starts again and `save` stores it, while "time.extensions" allows; the answer
    is what the page's script reads back."""
    granted = provider().limits.hit("time.extensions", record.id)
    if granted:
        record.created = time.time()
        save(record)
    expires_at = record.created + ttl
    if not granted:
        return {"error": "Không thể gia hạn thêm. Vui lòng hoàn tất sớm hoặc làm lại từ đầu.",
                "expires": int(expires_at)}, 409
    minutes = max(1, round((expires_at - time.time()) / 60))
    return {"expires": int(expires_at),
            "message": f"Đã gia hạn: bạn còn khoảng {minutes} phút."}, 200
