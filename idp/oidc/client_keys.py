"""Portals' public keys: registered by value (`jwks`) or published at their `jwks_uri`.

They verify client assertions (private_key_jwt, RFC 7523 §2.2) and signed request
objects (RFC 9101 §6.2). A fetched set is kept for `client_jwks_cache_seconds`; an
assertion naming a `kid` the set lacks fetches it again (the portal rotated its keys),
but at most once per `client_jwks_refresh_floor` per client, so forged kids cannot turn
the provider into a load generator against the portal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import ECKey, Key, KeySet, RSAKey

from idp.oidc import fapi2 as fapi2_profile
from idp.store.models import Client

# RFC 7518: RSA keys of 2048 bits or more; FAPI 2.0 allows PS256 and ES256 only.
KEY_ALGORITHMS = {"RSA": ("PS256", "RS256"), "EC": ("ES256",)}
MAX_JWKS_BYTES = 64 * 1024


class InvalidKeySet(ValueError):
    """A key set that cannot verify anything we accept; the message says why."""


class UnknownClientKey(JoseError):
    """No key of the client's set fits the JWS header (wrong `kid`, or none fits `alg`)."""

    error = "unknown_client_key"


def check_key_set(value: object, *, fapi2: bool = False) -> KeySet:
    """The parsed set of a registration's `jwks`, checked: public keys only, each one usable."""
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list) or not value["keys"]:
        raise InvalidKeySet('a JWK set: {"keys": [...]} with at least one key')
    kids = [key.get("kid") for key in value["keys"] if isinstance(key, dict)]
    if len(value["keys"]) > 1 and (None in kids or len(set(kids)) != len(kids)):
        raise InvalidKeySet("each key of a set of several needs its own 'kid'")
    try:
        key_set = KeySet.import_key_set(value)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise InvalidKeySet(f"unreadable key: {exc}") from None
    for key in key_set.keys:
        if key.is_private:
            raise InvalidKeySet("the set holds a private key: register the public keys only")
        if isinstance(key, RSAKey):
            if key.raw_value.key_size < 2048:
                raise InvalidKeySet("RSA keys need 2048 bits or more")
        elif isinstance(key, ECKey):
            if key.curve_name != "P-256":
                raise InvalidKeySet("EC keys must be on curve P-256 (ES256)")
        else:
            raise InvalidKeySet(f"unsupported key type {key.key_type}: RSA or EC P-256")
        alg = key.get("alg")
        allowed = fapi2_profile.ALGORITHMS if fapi2 else KEY_ALGORITHMS[key.key_type]
        if alg is not None and alg not in allowed:
            raise InvalidKeySet(f"key algorithm {alg}: one of {', '.join(allowed)}")
    return key_set


def check_jwks_uri(uri: str) -> str:
    """A `jwks_uri` must be https (http only on loopback, for development)."""
    parts = urlsplit(uri)
    loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if parts.scheme not in {"https", "http"} or not parts.hostname or parts.fragment:
        raise InvalidKeySet(f"jwks_uri must be an absolute URL without fragment: {uri}")
    if parts.scheme == "http" and not loopback:
        raise InvalidKeySet(f"jwks_uri must use https (http only on loopback): {uri}")
    return uri


class ClientKeySets:
    """Each client's public key set, parsed once and refreshed as the module says."""

    def __init__(self, timeout: float, cache_seconds: float, refresh_floor: float) -> None:
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.refresh_floor = refresh_floor
        self._sets: dict[tuple[str, object], tuple[KeySet, float]] = {}
        self._lock = threading.Lock()

    def resolver(self, client: Client) -> Callable[[object], Key]:
        """A joserfc key callable: the key the JWS header names, fetching again if unknown."""

        def resolve(obj) -> Key:
            headers = obj.headers()
            parameters = {"alg": headers.get("alg")}
            try:
                return self.key_set(client).get_by_kid(headers.get("kid"), parameters)
            except InvalidKeyIdError:
                refreshed = self.key_set(client, stale=True)
            try:
                return refreshed.get_by_kid(headers.get("kid"), parameters)
            except InvalidKeyIdError as exc:
                raise UnknownClientKey("no registered key of the client fits this JWS") from exc

        return resolve

    def key_set(self, client: Client, *, stale: bool = False) -> KeySet:
        """The client's key set; `stale` asks for a fresh copy of a fetched set (rate-limited)."""
        if client.jwks is not None:
            cache_key = (client.client_id, client.created_at)
            cached = self._sets.get(cache_key)
            if cached is None:
                cached = (KeySet.import_key_set(client.jwks), time.monotonic())
                with self._lock:
                    self._sets[cache_key] = cached
            return cached[0]
        if not client.jwks_uri:
            raise UnknownClientKey("the client registered no public keys")
        cache_key = (client.client_id, client.jwks_uri)
        cached = self._sets.get(cache_key)
        now = time.monotonic()
        if cached is not None:
            age = now - cached[1]
            if age < self.cache_seconds and not (stale and age >= self.refresh_floor):
                return cached[0]
        fetched = (self._fetch(client), now)
        with self._lock:
            self._sets[cache_key] = fetched
        return fetched[0]

    def _fetch(self, client: Client) -> KeySet:
        try:
            response = requests.get(client.jwks_uri, timeout=self.timeout,
                                    allow_redirects=False, headers={"Accept": "application/json"})
            if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
                raise UnknownClientKey(f"jwks_uri answered {response.status_code}")
            return check_key_set(response.json(), fapi2=client.is_fapi2)
        except (requests.RequestException, ValueError) as exc:
            raise UnknownClientKey(f"jwks_uri could not be read: {exc}") from None
