"""Response headers every page and API answer carries (DESIGN §7)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, g

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'"
)
FIXED_HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def allow_form_target(url: str) -> None:
    """Let this page's form end in a redirect to `url`'s origin (a portal's redirect URI).

    Browsers apply `form-action` to every redirect after a form POST, so pages
    that finish a login name the one portal origin they return to.
    """
    parts = urlsplit(url)
    g.setdefault("form_targets", set()).add(f"{parts.scheme}://{parts.netloc}")


def allow_connect(url: str) -> None:
    """Let this page's scripts call `url`'s origin (the local USB-token signing agent)."""
    parts = urlsplit(url)
    g.setdefault("connect_sources", set()).add(f"{parts.scheme}://{parts.netloc}")


def init_app(app: Flask, *, hsts: bool) -> None:
    """Add the security headers to every response."""

    @app.after_request
    def _security_headers(response: Response) -> Response:
        targets = " ".join(sorted(g.get("form_targets", ())))
        policy = f"{CSP} {targets}".rstrip()
        if sources := " ".join(sorted(g.get("connect_sources", ()))):
            policy += f"; connect-src 'self' {sources}"
        response.headers.setdefault("Content-Security-Policy", policy)
        for name, value in FIXED_HEADERS.items():
            response.headers.setdefault(name, value)
        if hsts:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        if response.mimetype == "text/html":
            # Pages carry CSRF tokens and personal data: never cache them.
            response.headers.setdefault("Cache-Control", "no-store")
        return response
