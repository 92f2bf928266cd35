"""The citizen's own console (/account) and the self-service recovery of a lost OTP phone.

`views.bp` is the blueprint; the rules live in `services`, `history`, `totp` and
`recovery`, which tests call without HTTP.
"""
