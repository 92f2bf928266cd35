"""Identity data a citizen shares by QR code, verifiable by any third party.

The citizen picks items in the console (`console.py`); the QR code carries a short URL
with a random code (`services.py`). Whoever reads that URL gets an SD-JWT VC signed by
the provider (`credential.py`): one disclosure per chosen item, nothing else, no portal
`sub`, a revocation entry in an IETF Token Status List (`status.py`). Anyone verifies it
with the keys named by the issuer metadata (`verifier.py`, importable by a bank); the
provider offers the same check as an API and a clerk's page (`web.py`).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the verifier's API and the clerk's page; the citizen's pages join the
    account console (call before `idp.account.init_app`)."""
    from idp.sharing import console  # noqa: F401 - attaches its pages to the account console
    from idp.sharing.web import bp

    app.register_blueprint(bp)
