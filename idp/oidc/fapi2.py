"""The FAPI 2.0 Security Profile (final) as a client profile: `idp client add --profile fapi2`.

Banks, insurers and the larger ministries register as `fapi2`. What the profile
asks of the provider for such a client, and where it is enforced:

- pushed requests only (PAR): authorize.check_pushed_request, else invalid_request;
- PKCE with S256: grants.PkceS256 (every client), else invalid_request;
- private_key_jwt with `aud` the issuer as a string: the registration (below) and
  private_key_jwt.PrivateKeyJwt, else invalid_client (a secret included);
- sender-constrained tokens (DPoP): dpop.SenderConstrainedGrant at /token, the bound
  token at /userinfo, else invalid_dpop_proof;
- `iss` in the authorization response: authorize.issue_code (every client);
- codes used once within 60 s: [tokens] code_ttl <= 60 and the code grant, else
  invalid_grant;
- exact redirect URIs: Client.check_redirect_uri (every client), else an error page;
- PS256 or ES256 only: client assertions, request objects, DPoP proofs, ID tokens (the
  `ALGORITHMS` below), else the error of each.

A refused request changes nothing: a pushed request, code or refresh token is only
spent by a request that passed every check before it.
"""

from __future__ import annotations

ALGORITHMS = ("PS256", "ES256")
"""FAPI 2.0 §5.4.1: the only signature algorithms, for every JWS in the flow."""
ID_TOKEN_ALGORITHM = "ES256"
"""Of the two, the one this provider signs with (its keys are RSA for RS256 and P-256)."""


class ProfileViolation(ValueError):
    """A registration the profile does not allow; the message says what to change."""


def check_registration(auth_method: str, id_token_alg: str) -> None:
    """What a `fapi2` registration must say (the keys themselves are checked with the set)."""
    if auth_method != "private_key_jwt":
        raise ProfileViolation("a fapi2 client authenticates with private_key_jwt")
    if id_token_alg != ID_TOKEN_ALGORITHM:
        raise ProfileViolation("a fapi2 client's ID tokens are signed with ES256 (FAPI 2.0 "
                               "allows PS256 and ES256 only)")
