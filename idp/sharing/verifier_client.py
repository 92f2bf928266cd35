"""`ShareVerifier`: what a bank or any third party calls to check a citizen's QR code.

    from idp.sharing.verifier_client import ShareVerifier

    verifier = ShareVerifier("https://sso.dichvucong.gov.vn")
    result = verifier.verify_qr(text_of_the_qr_code)
    if result.valid:
        print(result.claims)          # {"name": "...", "birthdate": "1985-03-15"}
    else:
        print(result.status_text)     # "Đã bị thu hồi", "Đã hết hạn", ...

It trusts one issuer, learns its keys from the issuer metadata and keeps them, fetches a
share's credential once from the URL in the QR code, and checks it offline
(`verifier.verify_credential`); status lists are kept for the `ttl` they state. It only
ever talks to the issuer's own origin, and follows no redirect.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import requests
from joserfc.jwk import KeySet

from idp.sharing import statuslist
from idp.sharing.credential import MEDIA_TYPE, METADATA_PATH
from idp.sharing.verifier import (
    NOT_FOUND,
    STATUS_TEXT,
    TAMPERED,
    UNAVAILABLE,
    UNREADABLE,
    UNTRUSTED_ISSUER,
    StatusUnavailable,
    Verification,
    claimed_issuer,
    classify_qr,
    read_status_list_token,
    verify_credential,
)

CREDENTIAL_LIMIT = 64 * 1024
DOCUMENT_LIMIT = 2 * 1024 * 1024
KEYS_MAX_AGE = 300.0
"""Seconds the issuer's keys are kept before they are fetched again."""
STATUS_MAX_AGE = 300.0
"""A status list is kept for its `ttl`, but never longer than this."""
# The provider's answers to a share URL that gives no credential.
_REFUSALS = {"share_used", "share_expired", "share_revoked", "share_not_found"}


@dataclass(frozen=True)
class _Answer:
    status_code: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> object:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class ShareVerifier:
    """Verifies the QR codes and credentials of one trusted issuer; safe across threads."""

    def __init__(self, issuer: str, *, session: requests.Session | None = None,
                 timeout: float = 5.0) -> None:
        """`issuer` is the provider's URL exactly as its credentials name it."""
        self.issuer = issuer.rstrip("/")
        self._http = session or requests.Session()
        self._timeout = timeout
        self._lock = threading.Lock()
        self._keys: tuple[float, KeySet] | None = None
        self._lists: dict[str, tuple[float, dict]] = {}

    def verify_qr(self, text: str) -> Verification:
        """Check the text of a scanned QR code: a share URL of the issuer (fetched once;
        a one-time share cannot be read again), or a compact credential."""
        content = classify_qr(text, self.issuer)
        if content.kind == "credential":
            return self.verify_credential(content.value)
        if content.kind == "foreign":
            return Verification(UNTRUSTED_ISSUER, "URL outside the trusted issuer")
        if content.kind != "share":
            return Verification(UNREADABLE, "not a share")
        try:
            response = self._get(self.issuer + "/s/" + content.value, MEDIA_TYPE,
                                 CREDENTIAL_LIMIT)
        except StatusUnavailable as exc:
            return Verification(UNAVAILABLE, str(exc))
        if response.status_code == 200:
            return self.verify_credential(response.text)
        body = response.json()
        error = body.get("error", "") if isinstance(body, dict) else ""
        if error in _REFUSALS:
            status = error.removeprefix("share_")
            return Verification(status if status in STATUS_TEXT else NOT_FOUND, error)
        return Verification(UNAVAILABLE, f"issuer answered {response.status_code}")

    def verify_credential(self, presentation: str) -> Verification:
        """Check a compact SD-JWT VC offline with the issuer's keys; if the signature does
        not verify with kept keys, fetch them once more (the issuer may have rotated)."""
        named = claimed_issuer(presentation)
        if named is not None and named != self.issuer:
            return Verification(UNTRUSTED_ISSUER, "issued by someone else")
        try:
            keys, fresh = self._issuer_keys(refresh=False)
        except StatusUnavailable as exc:
            return Verification(UNAVAILABLE, str(exc))
        result = verify_credential(presentation, issuer=self.issuer, keys=keys,
                                   status_of=self._status_of)
        if result.status == TAMPERED and not fresh:
            try:
                keys, _ = self._issuer_keys(refresh=True)
            except StatusUnavailable as exc:
                return Verification(UNAVAILABLE, str(exc))
            result = verify_credential(presentation, issuer=self.issuer, keys=keys,
                                       status_of=self._status_of)
        return result

    # --- what is fetched from the issuer ---------------------------------------------

    def _get(self, url: str, accept: str, limit: int) -> _Answer:
        """GET `url`, reading at most `limit` bytes of the answer."""
        body = bytearray()
        try:
            with self._http.get(url, headers={"Accept": accept}, timeout=self._timeout,
                                allow_redirects=False, stream=True) as response:
                for chunk in response.iter_content(65536):
                    body += chunk
                    if len(body) > limit:
                        raise StatusUnavailable("issuer's answer too large")
        except (requests.RequestException, OSError) as exc:
            raise StatusUnavailable(f"issuer unreachable: {type(exc).__name__}") from exc
        return _Answer(response.status_code, bytes(body))

    def _json(self, url: str) -> dict:
        answer = self._get(url, "application/json", DOCUMENT_LIMIT)
        document = answer.json() if answer.status_code == 200 else None
        if not isinstance(document, dict):
            raise StatusUnavailable(f"no JSON document at {url}")
        return document

    def _issuer_keys(self, *, refresh: bool) -> tuple[KeySet, bool]:
        """(the issuer's published keys, whether they were fetched just now)."""
        with self._lock:
            kept = self._keys
            if kept and not refresh and time.monotonic() - kept[0] < KEYS_MAX_AGE:
                return kept[1], False
            metadata = self._json(self.issuer + METADATA_PATH)
            jwks_uri = metadata.get("jwks_uri")
            if metadata.get("issuer") != self.issuer or not isinstance(jwks_uri, str) \
                    or not jwks_uri.startswith(self.issuer + "/"):
                raise StatusUnavailable("issuer metadata does not match the issuer")
            try:
                keys = KeySet.import_key_set(self._json(jwks_uri))
            except (ValueError, KeyError, TypeError) as exc:
                raise StatusUnavailable("issuer's JWKS cannot be read") from exc
            self._keys = (time.monotonic(), keys)
            return keys, True

    def _status_of(self, uri: str, index: int) -> int:
        if not uri.startswith(self.issuer + "/"):
            raise StatusUnavailable("status list outside the issuer")
        kept = self._lists.get(uri)
        if kept is None or time.monotonic() >= kept[0]:
            response = self._get(uri, "application/statuslist+jwt", DOCUMENT_LIMIT)
            if response.status_code != 200:
                raise StatusUnavailable(f"status list answered {response.status_code}")
            keys, _ = self._issuer_keys(refresh=False)
            claim, ttl = read_status_list_token(response.text, uri=uri, keys=keys)
            kept = (time.monotonic() + min(ttl, STATUS_MAX_AGE), claim)
            self._lists[uri] = kept
        return statuslist.status_at(kept[1], index)
