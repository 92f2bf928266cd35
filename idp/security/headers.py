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

    fixed = list(FIXED_HEADERS.items())
    if hsts:
        fixed.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        # A view's own value wins. One pass over the headers instead of a lookup per name:
        # this runs on every response, the static documents included.
        present = {name.lower() for name in headers.keys()}
        if "content-security-policy" not in present:
            targets = " ".join(sorted(g.get("form_targets", ())))
            policy = f"{CSP} {targets}".rstrip()
            if sources := " ".join(sorted(g.get("connect_sources", ()))):
                policy += f"; connect-src 'self' {sources}"
            headers.add("Content-Security-Policy", policy)
        headers.extend([(name, value) for name, value in fixed if name.lower() not in present])
        if response.mimetype == "text/html" and "cache-control" not in present:
            # Pages carry CSRF tokens and personal data: never cache them.
            headers.add("Cache-Control", "no-store")
        return response
