"""The ID token of token responses (OIDC Core §2, §3.1.3.3), as an Authlib grant extension.

It says who logged in and how (`sub`, `auth_time`, `acr`, `amr`, `sid`); claims the
portal asked for in the ID token with the `claims` parameter (§5.5) are added, and
the account is read only then.
"""

from __future__ import annotations

from idp.oidc.claims import user_claims
from idp.oidc.grants import Grantee
from idp.oidc.signed_tokens import at_hash, issue_id_token
from idp.oidc.subject import subject_for
from idp.oidc.verified_claims import verified_claims
from idp.provider import provider
from idp.store.models import Account, Client


class IdTokenExtension:
    """Adds the ID token to token responses whose scope includes `openid`."""

    def __call__(self, grant) -> None:
        grant.register_hook("after_create_token_response", self.add_id_token)

    def add_id_token(self, grant, response) -> None:
        _status, token, _headers = response
        add_id_token(token, grant.request.user, grant.request.client)


def add_id_token(token: dict, user: Grantee, client: Client) -> None:
    """Add the ID token to a token response whose scope includes `openid`."""
    if "openid" not in token.get("scope", "").split():
        return
    alg = client.id_token_signed_response_alg
    claims = {
        "sub": subject_for(user.subject, client),
        "aud": client.client_id,
        "auth_time": user.auth_time,
        "acr": user.acr,
        "amr": user.amr,
        "at_hash": at_hash(token["access_token"], alg),
    }
    if user.sid:
        claims["sid"] = user.sid
    if user.nonce:
        claims["nonce"] = user.nonce
    released = user.claims or {}
    requested = released.get("id_token")
    verified = (released.get("verified") or {}).get("id_token")
    if requested or verified:
        account = provider().db.session.get(Account, user.account_id)
        claims.update(user_claims(account, [], sub=claims["sub"], extra=requested or ()))
        if verified and (answer := verified_claims(account, verified["names"],
                                                   verified["request"])):
            claims["verified_claims"] = answer
    token["id_token"] = issue_id_token(claims, alg)
