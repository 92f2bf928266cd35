"""Identity data a citizen shares by QR code, verifiable by any third party.

The citizen picks items in the console (`console.py`); the QR code carries a short URL
with a random code (`services.py`). Whoever reads that URL gets an SD-JWT VC signed by
the provider (`credential.py`): one disclosure per chosen item, nothing else, no portal
`sub`, a revocation entry in an IETF Token Status List (`status.py`). Anyone verifies it
with the keys named by the issuer metadata (`verifier.py`, importable by a bank); the
provider offers the same check as an API and a clerk's page (`web.py`).
"""
