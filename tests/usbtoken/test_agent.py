"""The local signing agent as its own process, signing with SoftHSM tokens."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator

import pytest

from connectors.pki import new_challenge, signed_value, verify_signature
from tests.conftest import csrf_from
from tests.usbtoken.conftest import (
    EC_CITIZEN_CCCD,
    LEVEL_3,
    ORIGIN,
    RunningAgent,
    id_claims,
    start_agent,
    to_portal,
)


@pytest.fixture(scope="module")
def agent(softhsm_tokens) -> Iterator[RunningAgent]:
    running = start_agent(softhsm_tokens, ORIGIN)
    yield running
    running.stop()


def test_lists_the_certificates_on_the_tokens(agent):
    response = agent.call("GET", "/certificates")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    certificates = agent.certificates()
    assert set(certificates) == {"citizen-rsa", "citizen-ec", "enterprise", "agency"}
    assert certificates["citizen-rsa"]["subject"] == "Nguyễn Văn An"
    assert certificates["enterprise"]["issuer"] == "Nhà cung cấp CKS thử nghiệm"


@pytest.mark.parametrize(("token", "algorithm"), [("citizen-rsa", "RS256"),
                                                  ("agency", "ES256")])
def test_signs_the_bound_value_with_the_token_key(agent, usb_pki, token, algorithm):
    challenge = new_challenge()
    response = agent.call("POST", "/sign", json={
        "origin": ORIGIN, "challenge": challenge,
        "certificate_id": agent.certificates()[token]["id"]})
    assert response.status_code == 200, response.text
    signed = response.json()
    certificate = base64.b64decode(signed["certificate"])
    assert certificate == usb_pki.der(token) and signed["algorithm"] == algorithm
    verify_signature(certificate, signed_value(ORIGIN, challenge),
                     base64.b64decode(signed["signature"]), algorithm)


def test_agent_signature_logs_in_at_level_3(agent, flow, signer, token_account):
    token_account("citizen-ec")
    response, verifier, _, _ = flow.authorize(acr_values=LEVEL_3)
    location = response.headers["Location"]
    tx = location.split("tx=")[1]
    page = signer.open(location)
    challenge = signer.challenge(page, "login", tx)
    signed = agent.call("POST", "/sign", json={
        "origin": ORIGIN, "challenge": challenge,
        "certificate_id": agent.certificates()["citizen-ec"]["id"]}).json()
    response = flow.browser.post("/login/usb", data={
        "csrf_token": csrf_from(page), "tx": tx, "challenge": challenge, **signed})
    assert response.status_code == 303, response.get_data(as_text=True)
    claims = id_claims(flow, to_portal(flow, response), verifier)
    assert claims["acr"] == LEVEL_3 and claims["_userinfo"]["cccd"] == EC_CITIZEN_CCCD


def test_other_origins_get_nothing(agent):
    for origin in ("https://evil.test", "https://sso.test.evil.test", None):
        response = agent.call("GET", "/certificates", origin=origin)
        assert response.status_code == 403
        assert "Access-Control-Allow-Origin" not in response.headers
        preflight = agent.call("OPTIONS", "/sign", origin=origin,
                               headers={"Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 403
    preflight = agent.call("OPTIONS", "/sign", headers={
        "Access-Control-Request-Method": "POST", "Access-Control-Request-Private-Network": "true"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert preflight.headers["Access-Control-Allow-Private-Network"] == "true"


def test_refuses_to_sign_for_another_origin(agent):
    response = agent.call("POST", "/sign", json={
        "origin": "https://evil.test", "challenge": new_challenge(),
        "certificate_id": agent.certificates()["citizen-rsa"]["id"]})
    assert response.status_code == 403 and response.json()["error"] == "origin_mismatch"


def test_refuses_a_foreign_host_name(agent):
    # DNS rebinding: a page of evil.test whose name now points at 127.0.0.1.
    response = agent.call("GET", "/certificates",
                          headers={"Host": f"evil.test:{agent.port}"})
    assert response.status_code == 403


def test_bad_requests(agent):
    assert agent.call("POST", "/sign", json={"origin": ORIGIN, "challenge": "short"}
                      ).json()["error"] == "bad_request"
    assert agent.call("POST", "/sign", data="{not json", headers={
        "Content-Type": "application/json"}).status_code == 400
    response = agent.call("POST", "/sign", json={"origin": ORIGIN,
                                                 "challenge": new_challenge()})
    assert response.status_code == 409 and response.json()["error"] == "choose_certificate"


def test_listens_on_127_0_0_1_only(agent):
    with pytest.raises(OSError), socket.create_connection(("127.0.0.2", agent.port), timeout=2):
        pass
    with socket.create_connection(("127.0.0.1", agent.port), timeout=2):
        pass


def test_a_wrong_pin_signs_nothing(softhsm_tokens):
    wrong = start_agent(softhsm_tokens, ORIGIN, IDP_AGENT_PIN="000000")
    try:
        response = wrong.call("POST", "/sign", json={
            "origin": ORIGIN, "challenge": new_challenge(),
            "certificate_id": wrong.certificates()["agency"]["id"]})
        assert response.status_code == 403 and response.json()["error"] == "pin_incorrect"
        assert "PIN" in response.json()["message"]
    finally:
        wrong.stop()
