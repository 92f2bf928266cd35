"""examples/bank.py, a fapi2 portal on requests-oauth2client, opening an account over HTTP.

The bank pushes its request with private_key_jwt and a DPoP key, the citizen logs in and
consents (the page names the evidence), and the bank shows the verified claims it got.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import make_person
from tests.functional.test_independent_rp import Live, UserAgent
from tests.live import REPO, LiveProvider, free_port, wait_for
from tests.node_rp import client_key, public_jwks

pytest.importorskip("requests_oauth2client", reason="the examples extra is not installed")

COUNTER = {"staff": "canbo.motcua", "document": "cccd",
           "organization": "Bộ phận một cửa UBND phường Hàng Trống"}


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bank")
    provider = LiveProvider(directory)
    process = None
    try:
        provider.start()
        key = client_key("bank-1")
        key_file = directory / "bank.jwk.json"
        key_file.write_text(json.dumps(key.as_dict(private=True)))
        port = free_port()
        portal = provider.add_portal(
            "ngan-hang", f"http://127.0.0.1:{port}", profile="fapi2",
            token_endpoint_auth_method="private_key_jwt", jwks=public_jwks(key),
            backchannel_logout_uri=None,
            scopes=["openid", "profile", "phone", "cccd", "verified_claims"])
        person = make_person(91)
        provider.add_account({k: getattr(person, k) for k in
                              ("cccd", "full_name", "birthdate", "gender", "phone", "email")},
                             person.password, verified_by="counter", evidence=COUNTER)
        log = directory / "bank.log"
        process = subprocess.Popen(
            [sys.executable, str(REPO / "examples" / "bank.py"), "--issuer", provider.issuer,
             "--client-id", "ngan-hang", "--key", str(key_file), "--port", str(port)],
            stdout=log.open("w"), stderr=subprocess.STDOUT)
        wait_for(portal.base_url + "/", process=process, log=log)
        yield Live(provider, portal, person)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
        provider.stop()


def test_bank_opens_an_account_with_verified_claims(bank):
    browser = UserAgent(bank)
    start = browser.get(bank.portal.base_url + "/login")
    assert start.status_code == 302, start.text
    assert "request_uri=urn" in start.headers["Location"]  # pushed, nothing in the URL
    callback = browser.sign_in(start.headers["Location"])
    assert "/consent" in browser.visited
    landed = browser.get(callback)
    assert landed.status_code == 302, landed.text[:2000]
    customer = browser.get(bank.portal.base_url + "/api/customer").json()
    assert customer["token_type"] == "DPoP"
    assert customer["acr"] == "urn:vn:sso:loa:2"
    verified = customer["verified_claims"]
    assert verified["claims"]["cccd"] == bank.person.cccd
    assert verified["verification"]["trust_framework"] == "vn_sso"
    evidence = verified["verification"]["evidence"][0]
    assert evidence["type"] == "document"
    assert evidence["check_details"][0]["organization"] == COUNTER["organization"]
    page = browser.get(bank.portal.base_url + "/").text
    assert bank.person.cccd in page and "Bộ phận một cửa UBND phường Hàng Trống" in page, page
