"""Simulator of the MSSP (SIM signature; wire protocol in connectors/mssp.py).

Fixture SIMs hold keys and certificates of the test PKI (connectors.testpki): the phone
decides the certificate, or a failure the real MSSP reports for such a phone. A request
stays RUNNING until the control API settles it, or `approve_after` seconds pass, or
`expire_after` seconds pass (then TIMEOUT):

    POST /_control/sessions/<id>      {"action": "approve"|"cancel"|"timeout"|"hash_mismatch"|
                                                  "wrong_hash"}
    POST /_control/phones/<phone>     the same, for that phone's latest pending request
    GET  /_control/phones/<phone>     {"session_id", "state", "code", "display_text"}

From a shell (the demo): ``python -m connectors.simulators.mssp approve +84900000001``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from asn1crypto import algos, cms, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from flask import Flask, Response, abort, jsonify, request

from connectors.mssp import MAX_POLL_MS, verification_code
from connectors.simulators.common import json_body, make_simulator, text
from connectors.simulators.fixtures import Fixtures

DEFAULT_PKI_DIR = Path(__file__).resolve().parents[2] / "var" / "testpki"
SIM_PHONES = {
    "+84900000001": "citizen-rsa",
    "+84900000002": "citizen-ec",
    "+84900000003": "enterprise",
    "+84900000004": "expired",
    "+84900000005": "revoked",
}
"""Fixture SIMs: phone → certificate name in the test PKI's manifest."""
FAILING_PHONES = {
    "+84900000091": "NOT_SIM_CLIENT",
    "+84900000092": "PHONE_ABSENT",
    "+84900000093": "DELIVERY_ERROR",
}
"""Phones whose every request ends at once with this result; any other phone is
NOT_SIM_CLIENT."""
ACTIONS = {"approve": "OK", "cancel": "USER_CANCELLED", "timeout": "TIMEOUT",
           "hash_mismatch": "SIGNATURE_HASH_MISMATCH", "wrong_hash": "OK"}
"""Control actions and the result each gives; "wrong_hash" answers OK with a signature
over another hash (a faulty or malicious MSSP), which the provider must refuse."""


@dataclass
class Sim:
    """A fixture SIM's key and certificate (DER)."""

    key: Any
    certificate: bytes


@dataclass
class Request:
    """One signature request and, once complete, its answer."""

    id: str
    phone: str
    digest: bytes
    display_text: str
    started: float = field(default_factory=time.monotonic)
    answer: dict[str, Any] | None = None


def load_sims(pki_dir: Path) -> dict[str, Sim]:
    """The fixture SIMs from a test PKI directory (generated there when missing)."""
    manifest_path = pki_dir / "manifest.json"
    if not manifest_path.exists():
        from connectors.testpki import generate

        generate(pki_dir)
    certificates = json.loads(manifest_path.read_text(encoding="utf-8"))["certificates"]
    sims = {}
    for phone, name in SIM_PHONES.items():
        entry = certificates[name]
        key = serialization.load_pem_private_key((pki_dir / entry["key"]).read_bytes(), None)
        sims[phone] = Sim(key, (pki_dir / entry["der"]).read_bytes())
    return sims


def sign_cms(sim: Sim, digest: bytes) -> bytes:
    """A detached CMS SignedData over `digest` as a SIM makes it (DER)."""
    certificate = x509.Certificate.load(sim.certificate)
    attributes = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "message_digest", "values": [digest]}),
    ])
    to_sign = attributes.dump()
    if isinstance(sim.key, ec.EllipticCurvePrivateKey):
        value = sim.key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
        algorithm = "sha256_ecdsa"
    else:
        assert isinstance(sim.key, rsa.RSAPrivateKey)
        value = sim.key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
        algorithm = "sha256_rsa"
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber({
            "issuer": certificate.issuer, "serial_number": certificate.serial_number})}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "signed_attrs": attributes,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": algorithm}),
        "signature": value,
    })
    signed = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {"content_type": "data"},
        "certificates": [certificate],
        "signer_infos": [signer],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()


def create_app(fixtures: Fixtures, api_key: str, delay: float = 0.0, *,
               pki_dir: Path = DEFAULT_PKI_DIR, approve_after: float | None = None,
               expire_after: float = 120.0) -> Flask:
    """The MSSP over the fixture SIMs of the test PKI in `pki_dir`."""
    del fixtures  # SIMs come from the test PKI, not from the people fixtures
    sims = load_sims(pki_dir)
    app = make_simulator(__name__, api_key, delay)
    requests_by_id: dict[str, Request] = {}
    changed = threading.Condition()

    def settle(item: Request, action: str) -> None:
        result = ACTIONS[action]
        answer: dict[str, Any] = {"state": "COMPLETE", "result": result}
        if result == "OK":
            sim = sims[item.phone]
            digest = item.digest if action == "approve" else hashlib.sha256(item.digest).digest()
            answer["signature"] = base64.b64encode(sign_cms(sim, digest)).decode()
            answer["certificate"] = base64.b64encode(sim.certificate).decode()
        item.answer = answer

    def due(item: Request) -> None:
        """Settle a request whose configured time has come (caller holds `changed`)."""
        if item.answer is not None:
            return
        age = time.monotonic() - item.started
        if approve_after is not None and age >= approve_after:
            settle(item, "approve")
        elif age >= expire_after:
            settle(item, "timeout")

    @app.post("/v1/signature")
    def start_signature() -> Response:
        body = json_body()
        phone = text(body, "phone")
        if text(body, "hash_type") != "SHA256":
            abort(400)
        try:
            digest = base64.b64decode(text(body, "hash"), validate=True)
        except ValueError:
            abort(400)
        if len(digest) != 32:
            abort(400)
        item = Request(secrets.token_urlsafe(16), phone, digest,
                       str(body.get("display_text") or "")[:60])
        if phone not in sims:
            item.answer = {"state": "COMPLETE",
                           "result": FAILING_PHONES.get(phone, "NOT_SIM_CLIENT")}
        with changed:
            requests_by_id[item.id] = item
        return jsonify(session_id=item.id)

    @app.get("/v1/session/<session_id>")
    def poll(session_id: str) -> Response:
        try:
            timeout = min(int(request.args.get("timeout_ms", "0")), MAX_POLL_MS) / 1000
        except ValueError:
            abort(400)
        deadline = time.monotonic() + max(0.0, timeout)
        with changed:
            item = requests_by_id.get(session_id)
            if item is None:
                abort(404)
            due(item)
            while item.answer is None and (left := deadline - time.monotonic()) > 0:
                changed.wait(min(left, 0.1))
                due(item)
            return jsonify(item.answer or {"state": "RUNNING"})

    def control(item: Request | None) -> Response:
        if item is None:
            abort(404)
        if request.method == "GET":
            return jsonify(session_id=item.id, code=verification_code(item.digest),
                           display_text=item.display_text,
                           state="RUNNING" if item.answer is None else "COMPLETE")
        action = text(json_body(), "action")
        if action not in ACTIONS:
            abort(400)
        with changed:
            if item.answer is not None:
                abort(409)
            settle(item, action)
            changed.notify_all()
        return jsonify(session_id=item.id, result=item.answer["result"])

    @app.post("/_control/sessions/<session_id>")
    def control_session(session_id: str) -> Response:
        return control(requests_by_id.get(session_id))

    @app.route("/_control/phones/<phone>", methods=["GET", "POST"])
    def control_phone(phone: str) -> Response:
        latest = [item for item in requests_by_id.values() if item.phone == phone]
        return control(latest[-1] if latest else None)

    return app


def main(argv: list[str] | None = None) -> int:
    """Settle a phone's pending request on a running simulator, as the user on the phone."""
    parser = argparse.ArgumentParser(prog="python -m connectors.simulators.mssp",
                                     description="Answer a pending SIM signature request.")
    parser.add_argument("action", choices=[*ACTIONS, "show"])
    parser.add_argument("phone", help="E.164, e.g. +84900000001")
    parser.add_argument("--url", default="http://127.0.0.1:5104")
    parser.add_argument("--api-key", default="dev-mssp-key")
    args = parser.parse_args(argv)
    url = f"{args.url.rstrip('/')}/_control/phones/{args.phone}"
    headers = {"Authorization": f"Bearer {args.api_key}"}
    if args.action == "show":
        response = requests.get(url, headers=headers, timeout=5)
    else:
        response = requests.post(url, headers=headers, json={"action": args.action}, timeout=5)
    print(response.text.strip())
    return 0 if response.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
