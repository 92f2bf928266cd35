"""Pushed Authorization Requests (RFC 9126): the portal sends its request server to server.

The portal authenticates, the request is validated exactly as /authorize would
(RFC 9126 §2.1), and the portal gets a `request_uri` for the browser. That URI
works once, for at most `[oauth] par_ttl` (≤ 60 s), and only with the client that
pushed it: its state-store key includes the client id, so another client's attempt
finds nothing and spends nothing. A DPoP proof sent along binds the code to its key
(RFC 9449 §10.1).
"""

from __future__ import annotations

import hashlib
import secrets

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc9101.errors import InvalidRequestUriError
from flask import jsonify, request

from idp.oidc import authorization_server, bp, json_error
from idp.oidc.dpop import InvalidDPoPProof, current_nonce, request_proof
from idp.oidc.grants import CLIENT_AUTH_METHODS
from idp.oidc.request_object import decode_request_object
from idp.provider import provider
from idp.store.models import Client

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
CLIENT_AUTHENTICATION = {"client_assertion", "client_assertion_type", "client_secret"}


def _key(client_id: str, request_uri: str) -> str:
    return f"par:{client_id}:{hashlib.sha256(request_uri.encode()).hexdigest()}"


def pushed_parameters(client: Client) -> dict[str, str]:
    """The authorization parameters of this push, with a request object decoded."""
    form = request.form
    if any(len(form.getlist(name)) > 1 for name in form):
        raise InvalidRequestError("Each parameter may be sent once.")
    params = {name: form[name] for name in form if name not in CLIENT_AUTHENTICATION}
    if "request_uri" in params:
        raise InvalidRequestError("'request_uri' cannot be pushed (RFC 9126 section 2.1).")
    if params.setdefault("client_id", client.client_id) != client.client_id:
        raise InvalidRequestError("'client_id' is not the authenticated client.")
    if "request" in params:
        params = {**decode_request_object(params, client), "client_id": client.client_id}
    return params


def bind_to_dpop_key(params: dict[str, str], client: Client) -> bool:
    """RFC 9449 §10.1: a proof at /par binds the code to its key, as `dpop_jkt` does."""
    proof = request_proof("/par", client=client)
    if proof is None:
        return False
    if params.setdefault("dpop_jkt", proof.jkt) != proof.jkt:
        raise InvalidDPoPProof("'dpop_jkt' is not the thumbprint of the proof's key.")
    return True


@bp.route("/par", methods=["POST"])
def par():
    from idp.oidc.authorize import read_request, validated_grant

    server = authorization_server()
    settings = provider().settings.oauth
    dpop = False
    try:
        client = server.authenticate_client(server.create_oauth2_request(None),
                                            CLIENT_AUTH_METHODS, endpoint="par")
        params = pushed_parameters(client)
        dpop = bind_to_dpop_key(params, client)
        request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
        # The pushed request is checked now, as /authorize will check it again, so the
        # portal learns of a mistake here and not from the browser.
        params["request_uri"] = request_uri
        read_request(validated_grant(params))
    except OAuth2Error as error:
        return json_error(error)
    provider().state.put(_key(client.client_id, request_uri), params, settings.par_ttl)
    response = jsonify(request_uri=request_uri, expires_in=settings.par_ttl)
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    if dpop:
        response.headers["DPoP-Nonce"] = current_nonce()
    return response


def pushed_request(params: dict[str, str]) -> dict[str, str]:
    """The parameters pushed for the `request_uri` of `params`, taken once (RFC 9126 §4)."""
    request_uri = params.get("request_uri") or ""
    client_id = params.get("client_id") or ""
    if not request_uri.startswith(REQUEST_URI_PREFIX) or len(request_uri) > 200:
        raise InvalidRequestUriError("Only a request_uri issued by the PAR endpoint is accepted.",
                                     state=params.get("state"))
    pushed = provider().state.take(_key(client_id, request_uri))
    if pushed is None:
        raise InvalidRequestUriError(
            "The request_uri is unknown, expired, already used or was pushed by another client.")
    return pushed
