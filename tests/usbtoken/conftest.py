"""USB-token tests: one test PKI per session (and SoftHSM tokens holding its keys), a
provider that trusts it, and a browser helper that signs challenges the way the local
signing agent does, with the PKI's private key files."""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import func, select

from connectors.pki import signed_value
from connectors.testpki import CertificateAuthority, generate, new_key
from idp.store.models import Account, AccountCertificate, AuditEvent
from tests.conftest import ISSUER, Flow, csrf_from, query
from tests.live import free_port

REPO = Path(__file__).resolve().parents[2]
SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
USER_PIN = "123456"
ORIGIN = ISSUER  # https://sso.test: no path, default port
LEVEL_3 = "urn:vn:sso:loa:3"
CITIZEN_CCCD = "001090001234"  # citizen-rsa and every bad certificate (Nguyễn Văn An)
CITIZEN_BIRTHDATE = "1990-04-02"
EC_CITIZEN_CCCD = "079195000123"  # citizen-ec (Trần Thị Bình)
ENTERPRISE_MST = "0312345673"
AGENCY_BUDGET_CODE = "1085326"
SCOPES = ["openid", "profile", "phone", "email", "cccd", "organization", "offline_access"]


@dataclass
class UsbPki:
    """The generated test PKI and its licensed CA, kept to issue renewed certificates."""

    directory: Path
    manifest: dict[str, Any]
    licensed_ca: CertificateAuthority

    def path(self, relative: str) -> str:
        return str(self.directory / relative)

    def der(self, name: str) -> bytes:
        return (self.directory / self.manifest["certificates"][name]["der"]).read_bytes()

    def key(self, name: str) -> Any:
        return serialization.load_pem_private_key(
            (self.directory / self.manifest["certificates"][name]["key"]).read_bytes(), None)

    def renewed(self, name: str) -> tuple[bytes, Any]:
        """A new certificate and key for the same subject, as a CA issues on renewal."""
        subject = x509.load_der_x509_certificate(self.der(name)).subject
        key = new_key("rsa")
        now = datetime.now(UTC)
        certificate = self.licensed_ca.issue(subject, key.public_key(),
                                             not_before=now - timedelta(days=1),
                                             not_after=now + timedelta(days=700))
        return certificate.public_bytes(serialization.Encoding.DER), key

    def usb_token_settings(self) -> dict[str, list[str]]:
        """The [usb_token] section trusting this PKI."""
        return {
            "trusted_roots": [self.path(p) for p in self.manifest["trusted_roots"]],
            "intermediates": [self.path(p) for p in self.manifest["intermediates"]],
            "crl_sources": [self.path(p) for p in self.manifest["crls"]],
        }


@pytest.fixture(scope="session")
def usb_pki(tmp_path_factory) -> UsbPki:
    """connectors.testpki's PKI, its licensed CA caught on the way for renewals."""
    directory = tmp_path_factory.mktemp("usbpki")
    cas: dict[str, CertificateAuthority] = {}
    subordinate = CertificateAuthority.subordinate

    def keep(self, common_name, slug, *, now):
        cas[slug] = subordinate(self, common_name, slug, now=now)
        return cas[slug]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CertificateAuthority, "subordinate", keep)
        manifest = generate(directory)
    return UsbPki(directory, manifest, cas["licensed-ca"])


@pytest.fixture(scope="session")
def softhsm_tokens(usb_pki) -> Path:
    """SoftHSM tokens holding the PKI's keys (scripts/softhsm-tokens.sh); their conf file."""
    if shutil.which("softhsm2-util") is None or not SOFTHSM_MODULE.exists():
        pytest.skip("SoftHSM 2 is not installed (scripts/bootstrap.sh --softhsm installs it)")
    result = subprocess.run([REPO / "scripts" / "softhsm-tokens.sh", usb_pki.directory],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return usb_pki.directory / "softhsm" / "softhsm2.conf"


@dataclass
class RunningAgent:
    """idp-signing-agent running as its own process."""

    url: str
    port: int
    origin: str
    process: subprocess.Popen

    def call(self, method: str, path: str, *, origin: str | None = "", **kwargs):
        """A request as a page of `origin` makes it (default: the agent's own; None: no
        Origin header at all)."""
        headers = kwargs.pop("headers", {})
        if origin is not None:
            headers["Origin"] = origin or self.origin
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def certificates(self) -> dict[str, dict]:
        return {c["token"]: c for c in self.call("GET", "/certificates").json()["certificates"]}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_agent(conf, origin: str, port: int | None = None, **env: str) -> RunningAgent:
    """Run idp-signing-agent on the SoftHSM tokens, the PIN from the environment (tests)."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "connectors.signing_agent", "--origin", origin,
         "--module", str(SOFTHSM_MODULE), "--port", str(port)],
        env={**os.environ, "SOFTHSM2_CONF": str(conf), "IDP_AGENT_PIN": USER_PIN, **env},
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    line = process.stdout.readline()
    assert f"listening on http://127.0.0.1:{port}" in line, line
    return RunningAgent(f"http://127.0.0.1:{port}", port, origin, process)


@pytest.fixture
def settings(settings_for, usb_pki, overrides):
    """A provider trusting the test PKI, plus the test's own overrides."""
    sections: dict[str, dict] = {"usb_token": usb_pki.usb_token_settings()}
    for name, values in overrides.items():
        sections[name] = {**sections.get(name, {}), **values}
    return settings_for(**sections)


@pytest.fixture
def flow(browser, settings, make_portal):
    """The code flow with a portal that may ask for the organization scope."""
    return Flow(browser, settings, make_portal(scopes=SCOPES))


# --- signing as the agent does --------------------------------------------------------------


def sign(key: Any, data: bytes, algorithm: str) -> bytes:
    """A signature over `data` as a token makes it (ES256 as raw r ‖ s, like CKM_ECDSA)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert isinstance(key, rsa.RSAPrivateKey)
    scheme = padding.PKCS1v15() if algorithm == "RS256" else padding.PSS(
        mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    return key.sign(data, scheme, hashes.SHA256())


def default_algorithm(key: Any) -> str:
    return "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Signer:
    """A browser on the provider's signing pages: challenge, sign, post."""

    def __init__(self, browser, pki: UsbPki) -> None:
        self.browser = browser
        self.pki = pki

    def open(self, path: str) -> str:
        page = self.browser.get(path)
        assert page.status_code == 200, page.get_data(as_text=True)
        return page.get_data(as_text=True)

    def challenge(self, page: str, flow: str, ref: str) -> str:
        response = self.browser.post("/usb/challenge", data={"flow": flow, "ref": ref},
                                     headers={"X-CSRFToken": csrf_from(page)})
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["origin"] == ORIGIN
        return response.get_json()["challenge"]

    def fields(self, name: str, challenge: str, *, origin: str = ORIGIN,
               algorithm: str | None = None, key: Any = None, der: bytes | None = None,
               ) -> dict[str, str]:
        """What the page posts after the agent signed with certificate `name`."""
        key = key or self.pki.key(name)
        algorithm = algorithm or default_algorithm(key)
        return {"challenge": challenge, "certificate": b64(der or self.pki.der(name)),
                "signature": b64(sign(key, signed_value(origin, challenge), algorithm)),
                "algorithm": algorithm}

    def submit(self, page_path: str, action: str, flow: str, ref: str, name: str,
               hidden: dict[str, str] | None = None, **options):
        """Open the page, get a challenge, sign it and post; returns (response, fields)."""
        page = self.open(page_path)
        fields = self.fields(name, self.challenge(page, flow, ref), **options)
        response = self.browser.post(action, data={"csrf_token": csrf_from(page),
                                                   **(hidden or {}), **fields})
        return response, fields

    def login(self, location: str, name: str, **options):
        """On the USB login page `location`: sign with `name` and post."""
        tx = query(location)["tx"]
        return self.submit(location, "/login/usb", "login", tx, name, {"tx": tx}, **options)

    def register(self, account_type: str, name: str, **options):
        return self.submit(f"/register/usb/{account_type}", f"/register/usb/{account_type}",
                           "register", account_type, name, **options)

    def complete_registration(self, location: str, **form: str):
        page = self.open(location)
        return self.browser.post("/register/usb/confirm", data={
            "csrf_token": csrf_from(page), "r": query(location)["r"], **form})


@pytest.fixture
def signer(browser, usb_pki) -> Signer:
    return Signer(browser, usb_pki)


# citizen-ec's birth date is in its certificate (dateOfBirth); citizen-rsa's is typed.
BIRTHDATES = {"citizen-rsa": CITIZEN_BIRTHDATE, "citizen-ec": "1995-08-21"}


@pytest.fixture
def token_account(app, provider, usb_pki):
    """An account registered with certificate `name` through the registration service."""
    from connectors.pki import verify_certificate
    from idp.certificates.registration import NewAccountData, register_account

    def read(key: str) -> list[bytes]:
        return [Path(path).read_bytes() for path in usb_pki.usb_token_settings()[key]]

    def create(name: str) -> int:
        identity = verify_certificate(usb_pki.der(name), trusted_roots=read("trusted_roots"),
                                      intermediates=read("intermediates"),
                                      crls=read("crl_sources"))
        born = BIRTHDATES.get(name)
        data = NewAccountData(email=None,
                              birthdate=datetime.fromisoformat(born).date() if born else None)
        with app.app_context():
            return register_account(provider.db.session, identity, data).id

    return create


# --- what the provider recorded -------------------------------------------------------------


def counts(app, provider) -> dict[str, int]:
    """Rows that a refused signature must not add."""
    with app.app_context():
        session = provider.db.session
        return {"accounts": session.scalar(select(func.count(Account.id))),
                "certificates": session.scalar(select(func.count(AccountCertificate.id)))}


def audit_rows(app, provider, event: str) -> list[AuditEvent]:
    with app.app_context():
        return list(provider.db.session.scalars(
            select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)))


def id_claims(flow: Flow, location: str, verifier: str) -> dict:
    """Exchange the code in `location` and return the verified ID token's claims."""
    from tests.conftest import Authorization

    auth = Authorization(location, query(location), verifier, "", "")
    tokens = flow.exchange(auth).get_json()
    keys = KeySet.import_key_set(flow.browser.get("/jwks").get_json())
    claims = jwt.decode(tokens["id_token"], keys, algorithms=["RS256"]).claims
    claims["_userinfo"] = flow.browser.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).get_json()
    return claims


def to_portal(flow: Flow, answer) -> str:
    """Follow the provider from a finished login (its response, or the URL the SIM page is
    sent on to) through the consent to the portal redirect."""
    location = answer if isinstance(answer, str) else answer.headers["Location"]
    for _ in range(4):
        if location.startswith(flow.portal.redirect_uri):
            return location
        if "/consent" in location:
            response = flow.consent(location)
        else:
            response = flow.browser.get(location)
        assert response.status_code in (302, 303), response.get_data(as_text=True)
        location = response.headers["Location"]
    raise AssertionError(f"never reached the portal: {location}")


def page_error(response) -> str:
    """The Vietnamese message of a refused signature."""
    match = re.search(r'id="error">(?:<a [^>]*>)?([^<]+)<', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return html.unescape(match.group(1))


def session_cookie(browser) -> str | None:
    """The SSO session id in this browser's cookie jar."""
    cookie = browser.get_cookie("__Host-idp_session", domain="sso.test")
    return cookie.value if cookie else None


def new_browser(app):
    """Another browser (own cookies) on the same provider."""
    from tests.conftest import HttpsClient

    app.test_client_class = HttpsClient
    return app.test_client()

