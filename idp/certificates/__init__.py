"""Authentication by a signing certificate, shared by the USB token and the SIM signature.

Whoever holds the key of a certificate from a licensed CA can sign; this package decides
what such a signature proves and to which account. `trust` holds the root and licensed
CAs a certificate must chain to and the CRLs that revoke one; `verification` checks a
certificate and its signature over a one-time challenge (`challenges`) and reads the
identity the certificate carries; `refusals` says why one was not accepted; `bindings`
finds the account a certificate's identity names and binds the certificate to it;
`registration` keeps the identity between the signature and the account it opens; and
`step_up` finds the session a certificate login raises. The pages are each method's
(`idp.usbtoken`, `idp.simsign`), and the last step of a registration `idp.register`'s.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Load the configured trust anchors (before the methods that check against them)."""
    from idp.certificates.trust import init_trust

    init_trust(app, app.extensions["idp.provider"].settings)
