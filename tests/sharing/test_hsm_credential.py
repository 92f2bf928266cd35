"""A shared-identity credential signed by a key inside the HSM (SoftHSM 2 as the PKCS#11
token) verifies with the reference SD-JWT implementation and the provider's verifier."""

from __future__ import annotations

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from idp.store.models import SigningKey
from tests.sharing.test_credential import _decode, _reference_verify
from tests.unit.test_keys_pkcs11 import hsm, settings  # noqa: F401 - fixtures: HSM keys


def test_credential_signed_in_the_hsm_verifies(browser, citizen, share_of, read, check,
                                               settings):  # noqa: F811
    account_id, person = citizen
    credential = read(share_of(account_id, ("name", "cccd"))[1]).credential

    payload = _reference_verify(credential, browser.get("/jwks").get_json())
    assert (payload["name"], payload["cccd"]) == (person.full_name, person.cccd)
    assert check(credential).status == "valid"

    engine = create_engine(settings.database_url)
    with Session(engine) as session:
        key = session.scalar(select(SigningKey).where(
            SigningKey.kid == _decode(credential.split(".")[0])["kid"]))
    engine.dispose()
    assert (key.backend, key.alg, key.state) == ("pkcs11", "ES256", "current")
