"""Shared-identity credentials: an independent SD-JWT implementation (the IETF reference
package `sd-jwt`) verifies them; the provider's verifier refuses every altered, foreign,
expired, revoked or replayed one."""

from __future__ import annotations

import base64
import json
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier

from idp.sharing.sdjwt import digest, make_disclosure, split
from idp.sharing.statuslist import status_at
from idp.sharing.verifier import read_status_list_token
from tests.conftest import ISSUER


def _decode(segment: str):
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _reference_verify(presentation: str, jwks: dict) -> dict:
    """The IETF reference implementation's verifier, given the published JWKS."""
    def issuer_key(issuer: str, header: dict) -> JWK:
        assert issuer == ISSUER
        return JWK(**next(key for key in jwks["keys"] if key["kid"] == header["kid"]))

    return SDJWTVerifier(presentation, issuer_key).get_verified_payload()


def test_reference_implementation_verifies_exactly_the_chosen_items(
        browser, citizen, share_of, read):
    account_id, person = citizen
    _, code = share_of(account_id, ("name", "birthdate", "identity_assurance"))
    credential = read(code).credential
    jwks = browser.get("/jwks").get_json()

    payload = _reference_verify(credential, jwks)
    assert payload["name"] == person.full_name
    assert payload["birthdate"] == person.birthdate
    assert payload["identity_assurance"] == {"level": 2, "verified_by": "operator"}
    assert payload["iss"] == ISSUER and payload["vct"] == "urn:vn:sso:vct:shared-identity:1"
    assert payload["exp"] > time.time() > payload["iat"] - 5
    # Nothing beyond the three chosen items: no CCCD, phone, e-mail, and no portal `sub`.
    assert set(payload) == {"iss", "iat", "exp", "vct", "status", "name", "birthdate",
                            "identity_assurance"}
    parts = split(credential)
    assert len(parts.disclosures) == 3
    header, signed = _decode(parts.jws.split(".")[0]), _decode(parts.jws.split(".")[1])
    assert header["typ"] == "dc+sd-jwt" and header["alg"] == "ES256"
    assert len(signed["_sd"]) == 3 and signed["_sd_alg"] == "sha-256"
    assert person.cccd not in credential and "sub" not in signed


def test_metadata_names_the_keys_that_verify(browser, citizen, share_of, read):
    metadata = browser.get("/.well-known/jwt-vc-issuer")
    assert metadata.status_code == 200
    assert metadata.get_json() == {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"}
    credential = read(share_of(citizen[0])[1]).credential
    kid = _decode(credential.split(".")[0])["kid"]
    assert kid in {key["kid"] for key in browser.get("/jwks").get_json()["keys"]}


def test_provider_verifier_accepts_a_fresh_credential(citizen, share_of, read, check):
    account_id, person = citizen
    result = check(read(share_of(account_id, ("name", "birthdate"))[1]).credential)
    assert result.status == "valid"
    assert result.claims == {"name": person.full_name, "birthdate": person.birthdate}
    assert [label for _, label, _ in result.items()] == ["Họ và tên", "Ngày sinh"]
    assert result.items()[1][2] == "15/03/1985"


def test_added_or_altered_disclosure_is_refused(citizen, share_of, read, check):
    account_id, person = citizen
    credential = read(share_of(account_id, ("name",))[1]).credential
    parts = split(credential)
    # Added: a disclosure of the CCCD that the citizen did not choose.
    added = credential + make_disclosure("cccd", person.cccd) + "~"
    # Altered: the name disclosure with another name (same salt).
    salt, name, _ = _decode(parts.disclosures[0])
    forged = base64.urlsafe_b64encode(json.dumps([salt, name, "Trần Văn Giả"]).encode())
    altered = parts.jws + "~" + forged.decode().rstrip("=") + "~"
    # Doubled: the same disclosure twice.
    doubled = credential + parts.disclosures[0] + "~"
    for presentation in (added, altered, doubled):
        result = check(presentation)
        assert result.status == "tampered", result
        assert result.claims == {}
    # A key-binding JWT where none is expected, and a truncated token.
    assert check(credential + parts.jws).status == "tampered"
    assert check(parts.jws).status == "tampered"


def _resign(credential: str, key: ECKey, kid: str, **changes) -> str:
    parts = split(credential)
    payload = {**_decode(parts.jws.split(".")[1]), **changes}
    token = jwt.encode({"alg": "ES256", "kid": kid, "typ": "dc+sd-jwt"}, payload, key,
                       algorithms=["ES256"])
    return "~".join([token, *parts.disclosures, ""])


def test_wrong_key_and_other_issuer_are_refused(citizen, share_of, read, check):
    credential = read(share_of(citizen[0])[1]).credential
    kid = _decode(credential.split(".")[0])["kid"]
    stranger = ECKey.generate_key("P-256")
    # Our issuer's name and key id, someone else's key.
    assert check(_resign(credential, stranger, kid)).status == "tampered"
    # Another issuer, even one whose key is in the key set handed to the verifier.
    foreign = _resign(credential, stranger, "other", iss="https://sso.other.test")
    assert check(foreign).status == "untrusted_issuer"
    assert check(foreign, issuer="https://sso.other.test").status == "tampered"
    keys = KeySet([ECKey.import_key(stranger.as_dict(private=False) | {"kid": "other"})])
    trusted_other = check(foreign, issuer="https://sso.other.test", keys=keys,
                          status_of=lambda uri, index: 0)
    assert trusted_other.status == "valid"  # the forgery is only the test's own issuer's


def test_expired_credential_and_expired_share_are_refused(citizen, share_of, read, check):
    credential = read(share_of(citizen[0], validity=300)[1]).credential
    expires_at = _decode(split(credential).jws.split(".")[1])["exp"]
    assert check(credential, now=expires_at - 60).status == "valid"
    late = check(credential, now=expires_at + 60)
    assert late.status == "expired" and late.claims == {}


def test_revoked_share_refuses_reads_and_its_credentials(app, browser, citizen, share_of,
                                                         read, check):
    from idp.sharing.services import revoke_share

    account_id, _ = citizen
    share_id, code = share_of(account_id)
    credential = read(code).credential
    reference = _decode(split(credential).jws.split(".")[1])["status"]["status_list"]
    listed = browser.get(reference["uri"].removeprefix(ISSUER))
    assert listed.status_code == 200
    assert listed.headers["Content-Type"] == "application/statuslist+jwt"
    with app.test_request_context():
        assert revoke_share(account_id + 1, share_id) is False  # someone else's share
        assert revoke_share(account_id, share_id) is True
    assert check(credential).status == "revoked"
    assert read(code).refused == "revoked"

    # The published list says so too, read with the issuer's keys and, independently,
    # by inflating the list by hand (bit idx % 8 of byte idx // 8).
    token = browser.get(reference["uri"].removeprefix(ISSUER)).get_data(as_text=True)
    keys = KeySet.import_key_set(browser.get("/jwks").get_json())
    claim, ttl = read_status_list_token(token, uri=reference["uri"], keys=keys)
    assert status_at(claim, reference["idx"]) == 1 and ttl == 60
    raw = zlib.decompress(base64.urlsafe_b64decode(claim["lst"] + "=" * (-len(claim["lst"]) % 4)))
    index = reference["idx"]
    assert (raw[index // 8] >> (index % 8)) & 1 == 1
    assert sum(bin(byte).count("1") for byte in raw) == 1  # only that share is revoked


def test_one_time_share_is_read_once_even_by_racing_readers(citizen, share_of, read, check):
    _, code = share_of(citizen[0], one_time=True)
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(read, [code] * 4))
    credentials = [outcome.credential for outcome in outcomes if outcome.credential]
    assert len(credentials) == 1
    assert sorted(outcome.refused or "" for outcome in outcomes) == ["", "used", "used", "used"]
    assert read(code).refused == "used"  # replayed later
    assert check(credentials[0]).status == "valid"  # what the first reader got stays valid


def test_unknown_code_and_reads_are_audited(app, citizen, share_of, read):
    from sqlalchemy import select

    from idp.store.models import AuditEvent

    account_id, _ = citizen
    share_id, code = share_of(account_id, one_time=True)
    read(code, ip="198.51.100.20")
    read(code, ip="198.51.100.21")
    assert read("x" * 43).refused == "not_found"
    with app.app_context():
        rows = app.extensions["idp.provider"].db.session.execute(
            select(AuditEvent.event, AuditEvent.result, AuditEvent.account_id, AuditEvent.ip,
                   AuditEvent.detail).where(AuditEvent.event.like("share.%"))
            .order_by(AuditEvent.id)).all()
    assert [(r.event, r.result, r.account_id) for r in rows] == [
        ("share.create", "success", account_id),
        ("share.read", "success", account_id),
        ("share.read", "failure", account_id),
        ("share.read", "failure", None),
    ]
    assert [r.ip for r in rows[1:3]] == ["198.51.100.20", "198.51.100.21"]
    assert rows[1].detail == {"share": share_id, "items": ["name", "birthdate"]}
    assert rows[2].detail["reason"] == "used"


def test_credentials_of_one_share_do_not_match_beyond_their_values(citizen, share_of, read):
    _, code = share_of(citizen[0])
    first, second = read(code).credential, read(code).credential
    assert set(split(first).disclosures).isdisjoint(split(second).disclosures)
    digests = {digest(d) for d in split(first).disclosures}
    assert digests == set(_decode(split(first).jws.split(".")[1])["_sd"])
