"""idp-signing-agent: the local signing agent for logging in with a USB signing token.

Runs on the user's own machine and listens on 127.0.0.1 only. It answers one web origin,
the identity provider's (the Origin header must match exactly, CORS is granted to that
origin alone), and offers:

    GET  /certificates  the signing certificates on the tokens plugged in (no PIN needed)
    POST /sign          {"origin", "challenge", "certificate_id"}
                        → {"certificate", "signature", "algorithm"} (base64, JOSE name)

It computes the value to sign itself, as the Web eID authentication token does:
sha256(origin) ‖ sha256(challenge), with its own configured origin, so no other site can
obtain a signature that the provider would accept. RSA keys sign with CKM_SHA256_RSA_PKCS
(RS256), P-256 keys with CKM_ECDSA over the SHA-256 digest (ES256, raw r ‖ s).

The PIN is asked on the agent's own terminal for every signature and goes to the token
only; a token with a PIN pad asks on the pad. For development and automated tests ONLY,
--pin-file or $IDP_AGENT_PIN supplies the PIN without asking: every page of the provider's
origin then gets signatures without the holder's consent.

    idp-signing-agent --origin https://sso.dichvucong.gov.vn --module /usr/lib/vendor-pkcs11.so
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import json
import os
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pkcs11
from cryptography import x509
from cryptography.x509.oid import NameOID
from pkcs11 import Attribute, CertificateType, KeyType, Mechanism, ObjectClass, TokenFlag
from pkcs11.exceptions import PinIncorrect, PinLenRange, PinLocked, PKCS11Error

from connectors.pki.signatures import signed_value, web_origin

DEFAULT_PORT = 14565
LOOPBACK = "127.0.0.1"
MAX_BODY_BYTES = 4096
# Base64url challenges of at least 256 bits (43 characters), with some room.
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43,256}")
_CERTIFICATE_ID = re.compile(r"[0-9a-f]{64}")

# Vietnamese messages for the login page, which shows them as they are.
MESSAGES = {
    "forbidden": "Phần mềm ký số chỉ phục vụ trang đăng nhập của hệ thống định danh.",
    "origin_mismatch": "Yêu cầu ký số không đến từ trang đăng nhập của hệ thống định danh.",
    "bad_request": "Yêu cầu ký số không hợp lệ.",
    "not_found": "Không tìm thấy chứng thư số đã chọn. Vui lòng cắm lại USB ký số và tải lại "
                 "trang.",
    "choose_certificate": "Vui lòng chọn chứng thư số để ký.",
    "user_cancelled": "Bạn đã từ chối ký số.",
    "pin_incorrect": "Mã PIN không đúng. Vui lòng thử lại; nhập sai nhiều lần sẽ khóa USB ký số.",
    "pin_locked": "USB ký số đã bị khóa do nhập sai mã PIN nhiều lần. Vui lòng liên hệ tổ chức "
                  "cung cấp chứng thư số.",
    "token_error": "USB ký số không ký được. Vui lòng cắm lại USB ký số và thử lại.",
}


class AgentError(Exception):
    """A request the agent refuses; `code` keys MESSAGES."""

    def __init__(self, status: HTTPStatus, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class TokenCertificate:
    """A signing certificate found on a token, with what the page shows of it."""

    id: str
    """SHA-256 fingerprint of the certificate (hex): stable across plugging in and out."""
    token: str
    key_id: bytes
    der: bytes
    subject: str
    issuer: str
    serial: str
    not_after: str

    def public(self) -> dict[str, str]:
        return {"id": self.id, "token": self.token, "subject": self.subject,
                "issuer": self.issuer, "serial": self.serial, "not_after": self.not_after}


def _name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else name.rfc4514_string()


def _describe(token: str, key_id: bytes, der: bytes) -> TokenCertificate | None:
    """The certificate, or None when it is a CA certificate or unreadable."""
    try:
        certificate = x509.load_der_x509_certificate(der)
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        if constraints.value.ca:
            return None  # tokens often carry their CA chain too
    except x509.ExtensionNotFound:
        pass
    except ValueError:
        return None
    return TokenCertificate(
        id=hashlib.sha256(der).hexdigest(), token=token, key_id=key_id, der=der,
        subject=_name(certificate.subject), issuer=_name(certificate.issuer),
        serial=format(certificate.serial_number, "X"),
        not_after=certificate.not_valid_after_utc.strftime("%d/%m/%Y"),
    )


PinSource = Callable[[TokenCertificate, str], str | None]
"""Gives the PIN to sign with `certificate` for `origin`; None or "" means refused."""


class Tokens:
    """The tokens of one PKCS#11 module; every call looks at what is plugged in now."""

    def __init__(self, module: str) -> None:
        self._library = pkcs11.lib(module)
        self._lock = threading.Lock()  # one PKCS#11 conversation at a time

    def _tokens(self):
        for slot in self._library.get_slots(token_present=True):
            try:
                token = slot.get_token()
            except PKCS11Error:
                continue
            if token.flags & TokenFlag.TOKEN_INITIALIZED:
                yield token

    def certificates(self) -> list[TokenCertificate]:
        """The signing certificates on every token; no login is needed to read them."""
        found = []
        with self._lock:
            for token in self._tokens():
                try:
                    with token.open() as session:
                        for item in session.get_objects({
                            Attribute.CLASS: ObjectClass.CERTIFICATE,
                            Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                        }):
                            described = _describe(token.label, bytes(item[Attribute.ID]),
                                                  bytes(item[Attribute.VALUE]))
                            if described is not None:
                                found.append(described)
                except PKCS11Error:
                    continue  # a token pulled out meanwhile, or one this module cannot read
        return found

    def sign(self, certificate: TokenCertificate, data: bytes,
             pin: str | object) -> tuple[bytes, str]:
        """Sign `data` with the key beside `certificate`; returns (signature, algorithm)."""
        with self._lock:
            token = next((t for t in self._tokens() if t.label == certificate.token), None)
            if token is None:
                raise AgentError(HTTPStatus.NOT_FOUND, "not_found")
            try:
                with token.open(user_pin=pin) as session:
                    key = session.get_key(object_class=ObjectClass.PRIVATE_KEY,
                                          id=certificate.key_id)
                    if key.key_type == KeyType.RSA:
                        return key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS), "RS256"
                    if key.key_type == KeyType.EC:
                        digest = hashlib.sha256(data).digest()
                        return key.sign(digest, mechanism=Mechanism.ECDSA), "ES256"
            except (PinIncorrect, PinLenRange):
                raise AgentError(HTTPStatus.FORBIDDEN, "pin_incorrect") from None
            except PinLocked:
                raise AgentError(HTTPStatus.FORBIDDEN, "pin_locked") from None
            except PKCS11Error:
                raise AgentError(HTTPStatus.BAD_GATEWAY, "token_error") from None
        raise AgentError(HTTPStatus.BAD_GATEWAY, "token_error")

    def has_pin_pad(self, certificate: TokenCertificate) -> bool:
        with self._lock:
            return any(t.label == certificate.token
                       and t.flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH
                       for t in self._tokens())


class Agent:
    """What the HTTP handler asks for: the origin served, the tokens, the PIN."""

    def __init__(self, origin: str, tokens: Tokens, pin_source: PinSource) -> None:
        self.origin = origin
        self.tokens = tokens
        self.pin_source = pin_source
        self._prompt_lock = threading.Lock()  # one PIN prompt on the terminal at a time

    def list(self) -> dict:
        return {"certificates": [c.public() for c in self.tokens.certificates()]}

    def sign(self, request: dict) -> dict:
        origin, challenge = request.get("origin"), request.get("challenge")
        chosen = request.get("certificate_id")
        if not (isinstance(challenge, str) and _CHALLENGE.fullmatch(challenge)):
            raise AgentError(HTTPStatus.BAD_REQUEST, "bad_request")
        if origin != self.origin:
            raise AgentError(HTTPStatus.FORBIDDEN, "origin_mismatch")
        if chosen is not None and not (isinstance(chosen, str)
                                       and _CERTIFICATE_ID.fullmatch(chosen)):
            raise AgentError(HTTPStatus.BAD_REQUEST, "bad_request")
        certificates = self.tokens.certificates()
        if chosen is None and len(certificates) > 1:
            raise AgentError(HTTPStatus.CONFLICT, "choose_certificate")
        certificate = next((c for c in certificates if chosen in (None, c.id)), None)
        if certificate is None:
            raise AgentError(HTTPStatus.NOT_FOUND, "not_found")
        pin: str | object | None
        if self.tokens.has_pin_pad(certificate):
            pin = pkcs11.PROTECTED_AUTH
        else:
            with self._prompt_lock:
                pin = self.pin_source(certificate, self.origin)
        if not pin:
            raise AgentError(HTTPStatus.FORBIDDEN, "user_cancelled")
        # Always this agent's own origin: the page's word only had to agree with it.
        signature, algorithm = self.tokens.sign(
            certificate, signed_value(self.origin, challenge), pin)
        return {"certificate": base64.b64encode(certificate.der).decode(),
                "signature": base64.b64encode(signature).decode(), "algorithm": algorithm}


class AgentHandler(BaseHTTPRequestHandler):
    """HTTP for the login page: exact Origin, loopback Host, small JSON bodies."""

    server: AgentServer
    server_version = "idp-signing-agent"
    sys_version = ""

    def _allowed(self) -> bool:
        # The Host check stops DNS rebinding; the Origin check every other site.
        port = self.server.server_address[1]
        host_ok = self.headers.get("Host") in {f"{LOOPBACK}:{port}", f"localhost:{port}"}
        if host_ok and self.headers.get("Origin") == self.server.agent.origin:
            return True
        self._reply(HTTPStatus.FORBIDDEN, {"error": "forbidden",
                                           "message": MESSAGES["forbidden"]}, cors=False)
        return False

    def _reply(self, status: HTTPStatus, body: dict | None, *, cors: bool = True,
               preflight: bool = False) -> None:
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Vary", "Origin")
        if cors:
            self.send_header("Access-Control-Allow-Origin", self.server.agent.origin)
        if preflight:
            self.send_header("Access-Control-Allow-Methods", "GET, POST")
            self.send_header("Access-Control-Allow-Headers", "Content-Type")
            # Chromium's Private Network Access: a public page may call this loopback agent.
            self.send_header("Access-Control-Allow-Private-Network", "true")
            self.send_header("Access-Control-Max-Age", "600")
        self.end_headers()
        self.wfile.write(data)

    def _error(self, error: AgentError) -> None:
        self._reply(error.status, {"error": error.code, "message": MESSAGES[error.code]})

    def do_OPTIONS(self) -> None:  # noqa: N802 - http.server's naming
        if self._allowed():
            self._reply(HTTPStatus.NO_CONTENT, None, preflight=True)

    def do_GET(self) -> None:  # noqa: N802
        if not self._allowed():
            return
        if self.path != "/certificates":
            self._error(AgentError(HTTPStatus.NOT_FOUND, "bad_request"))
            return
        try:
            self._reply(HTTPStatus.OK, self.server.agent.list())
        except PKCS11Error:
            self._error(AgentError(HTTPStatus.BAD_GATEWAY, "token_error"))

    def do_POST(self) -> None:  # noqa: N802
        if not self._allowed():
            return
        try:
            if self.path != "/sign":
                raise AgentError(HTTPStatus.NOT_FOUND, "bad_request")
            self._reply(HTTPStatus.OK, self.server.agent.sign(self._json()))
        except AgentError as error:
            self._error(error)
        except PKCS11Error:
            self._error(AgentError(HTTPStatus.BAD_GATEWAY, "token_error"))

    def _json(self) -> dict:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY_BYTES:
            raise AgentError(HTTPStatus.BAD_REQUEST, "bad_request")
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            raise AgentError(HTTPStatus.BAD_REQUEST, "bad_request") from None
        if not isinstance(body, dict):
            raise AgentError(HTTPStatus.BAD_REQUEST, "bad_request")
        return body

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's name
        # Request lines only (method, path, status): no challenge, no certificate.
        sys.stderr.write(f"idp-signing-agent: {format % args}\n")


class AgentServer(ThreadingHTTPServer):
    """The HTTP server, bound to 127.0.0.1 and nothing else."""

    daemon_threads = True

    def __init__(self, port: int, agent: Agent) -> None:
        self.agent = agent
        super().__init__((LOOPBACK, port), AgentHandler)


def terminal_pin(certificate: TokenCertificate, origin: str) -> str | None:
    """Ask the holder on this terminal, naming the site and the certificate."""
    try:
        return getpass.getpass(
            f"\n{origin} yêu cầu ký số để đăng nhập bằng chứng thư số \"{certificate.subject}\" "
            f"(USB ký số {certificate.token}).\nNhập mã PIN (để trống để từ chối): ")
    except (EOFError, KeyboardInterrupt):
        return None


def fixed_pin(pin: str) -> PinSource:
    """Development and tests only: the same PIN for every request, nobody asked."""
    return lambda certificate, origin: pin


def main(argv: list[str] | None = None) -> int:
    """Command line: parse, open the PKCS#11 module, serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="idp-signing-agent",
        description="Ký số bằng USB ký số cho trang đăng nhập của hệ thống định danh "
                    "(local signing agent).")
    parser.add_argument("--origin", default=os.environ.get("IDP_AGENT_ORIGIN"),
                        help="the identity provider's origin, e.g. https://sso.dichvucong.gov.vn "
                             "(or $IDP_AGENT_ORIGIN)")
    parser.add_argument("--module", default=os.environ.get("IDP_AGENT_PKCS11_MODULE"),
                        help="the token's PKCS#11 library (or $IDP_AGENT_PKCS11_MODULE)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--pin-file", type=Path,
                        help="DEVELOPMENT AND TESTS ONLY: read the PIN from this file instead "
                             "of asking ($IDP_AGENT_PIN does the same)")
    args = parser.parse_args(argv)
    if not args.origin or not args.module:
        parser.error("--origin and --module are required")
    try:
        origin = web_origin(args.origin)
    except ValueError as exc:
        parser.error(f"--origin: {exc}")
    pin_source: PinSource = terminal_pin
    unattended = (args.pin_file.read_text(encoding="utf-8").strip() if args.pin_file
                  else os.environ.get("IDP_AGENT_PIN"))
    if unattended:
        print("idp-signing-agent: WARNING: PIN taken from --pin-file/$IDP_AGENT_PIN — for "
              "development and tests only; signatures are made without asking.",
              file=sys.stderr)
        pin_source = fixed_pin(unattended)
    try:
        tokens = Tokens(args.module)
    except (OSError, RuntimeError, PKCS11Error) as exc:
        parser.error(f"--module: cannot load {args.module}: {exc}")
    server = AgentServer(args.port, Agent(origin, tokens, pin_source))
    print(f"idp-signing-agent: listening on http://{LOOPBACK}:{server.server_address[1]} "
          f"for {origin}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
