"""Signing keys generated and used inside a PKCS#11 token: an HSM (SoftHSM 2 in tests).

The private key is created on the token as sensitive and non-extractable, so
it never exists outside the HSM; the database only stores its label. To
joserfc such a key looks like any RSAKey or ECKey: its private half is an
object that signs the way a cryptography private key does, by asking the
token. The JWKS and the rotation therefore work exactly as with software keys.
Just over 400 lines: the session pool and the two key types' signers belong together.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import pkcs11
from cryptography.hazmat.primitives.asymmetric.ec import (
    ECDSA,
    SECP256R1,
    EllipticCurvePublicKey,
    EllipticCurveSignatureAlgorithm,
)
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import load_der_public_key
from joserfc.jwk import ECKey, Key, RSAKey
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import (
    DeviceError,
    DeviceRemoved,
    KeyHandleInvalid,
    NoSuchKey,
    ObjectHandleInvalid,
    PinIncorrect,
    PKCS11Error,
    SessionClosed,
    SessionHandleInvalid,
    TokenNotPresent,
    UserNotLoggedIn,
)
from pkcs11.mechanisms import GCMParams
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

from keys.base import SigningKeyError, check_alg

_T = TypeVar("_T")
_PublicKey = RSAPublicKey | EllipticCurvePublicKey


@dataclass(frozen=True)
class _Spec:
    """How one JWS algorithm maps onto PKCS#11."""

    key_type: KeyType
    key_length: int | None
    public_template: dict[Attribute, Any]
    mechanism: Mechanism


_SPECS = {
    "RS256": _Spec(
        KeyType.RSA, 2048, {Attribute.PUBLIC_EXPONENT: b"\x01\x00\x01"}, Mechanism.SHA256_RSA_PKCS
    ),
    # CKM_ECDSA signs a SHA-256 digest computed here: more widely offered than CKM_ECDSA_SHA256.
    "ES256": _Spec(
        KeyType.EC,
        None,
        {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
        Mechanism.ECDSA,
    ),
}

# Spelled out, though python-pkcs11 defaults to some of it: these keep the key in the HSM.
_PRIVATE_TEMPLATE = {
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
}

# Errors after which a new session (and login) may succeed: the HSM restarted,
# the network to it dropped, or a cached object handle went stale.
_SESSION_LOST = (
    DeviceError,
    DeviceRemoved,
    KeyHandleInvalid,
    ObjectHandleInvalid,
    SessionClosed,
    SessionHandleInvalid,
    TokenNotPresent,
    UserNotLoggedIn,
)


class _Token:
    """The one logged-in session this process keeps on a token, shared by its threads.

    python-pkcs11 sessions are not thread-safe, so every call holds a lock; the
    session and the key handles are opened once, not per signature.
    """

    def __init__(self, module_path: str, token_label: str, user_pin: str) -> None:
        self.module_path = module_path
        self.token_label = token_label
        self._user_pin = user_pin
        self._lock = threading.Lock()
        self._session: pkcs11.Session | None = None
        self._objects: dict[tuple[str, ObjectClass], pkcs11.Object] = {}

    def generate(self, alg: str) -> tuple[str, _PublicKey]:
        """Create a key pair for `alg` under a fresh label; return (label, public key)."""
        spec = _SPECS[alg]

        def create(session: pkcs11.Session) -> tuple[str, _PublicKey]:
            # Drawn per attempt, so a retry never makes two objects with one label.
            key_id = secrets.token_bytes(16)
            label = f"idp-{alg.lower()}-{key_id.hex()}"
            public, private = session.generate_keypair(
                spec.key_type,
                spec.key_length,
                id=key_id,
                label=label,
                store=True,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                public_template=spec.public_template,
                private_template=_PRIVATE_TEMPLATE,
            )
            # A module may ignore a template it dislikes; the key must not leave the HSM.
            if not private[Attribute.SENSITIVE] or private[Attribute.EXTRACTABLE]:
                private.destroy()
                public.destroy()
                raise SigningKeyError(
                    f"token {self.token_label!r} made an extractable key; refusing to use it"
                )
            return label, _read_public(public, alg)

        return self._run(create)

    def public_key(self, label: str, alg: str) -> _PublicKey:
        """The public half of the key pair `label`, as the token holds it."""
        return self._run(
            lambda session: _read_public(
                self._find(session, label, ObjectClass.PUBLIC_KEY, alg), alg
            )
        )

    def sign(self, label: str, alg: str, data: bytes) -> bytes:
        """The token's raw signature over `data` with the private key `label`."""
        return self._run(
            lambda session: self._find(session, label, ObjectClass.PRIVATE_KEY, alg).sign(
                data, mechanism=_SPECS[alg].mechanism
            )
        )

    def destroy(self, label: str) -> None:
        """Delete both halves of the key pair `label` from the token (none left: done)."""

        def remove(session: pkcs11.Session) -> None:
            for object_class in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
                self._objects.pop((label, object_class), None)
                for found in session.get_objects(
                    {Attribute.CLASS: object_class, Attribute.LABEL: label}
                ):
                    found.destroy()

        self._run(remove)

    def _run(self, operation: Callable[[pkcs11.Session], _T]) -> _T:
        with self._lock:
            try:
                try:
                    return operation(self._open())
                except _SESSION_LOST:
                    self._drop()
                    return operation(self._open())
            except PKCS11Error as exc:
                raise SigningKeyError(self._explain(exc)) from exc

    def _open(self) -> pkcs11.Session:
        if self._session is None:
            token = pkcs11.lib(self.module_path).get_token(token_label=self.token_label)
            self._session = token.open(rw=True, user_pin=self._user_pin)
        return self._session

    def _drop(self) -> None:
        session, self._session = self._session, None
        self._objects.clear()
        if session is not None:
            # It is most likely dead already; closing it is only tidying up.
            with suppress(PKCS11Error):
                session.close()

    def _find(
        self, session: pkcs11.Session, label: str, object_class: ObjectClass, alg: str
    ) -> Any:
        """The key object `label` of `object_class`, looked up once per session."""
        cached = self._objects.get((label, object_class))
        if cached is None:
            cached = session.get_key(
                object_class=object_class, key_type=_SPECS[alg].key_type, label=label
            )
            self._objects[(label, object_class)] = cached
        return cached

    def _explain(self, exc: PKCS11Error) -> str:
        where = f"PKCS#11 token {self.token_label!r} ({self.module_path})"
        if isinstance(exc, PinIncorrect):
            return f"{where}: wrong keys.pkcs11_pin (IDP_PKCS11_PIN)"
        detail = str(exc)
        return f"{where}: {type(exc).__name__}" + (f": {detail}" if detail else "")


_tokens: dict[tuple[str, str], _Token] = {}
_tokens_lock = threading.Lock()


def _token_for(module_path: str, token_label: str, user_pin: str) -> _Token:
    """The process's session holder for a token, shared by every backend using it.

    PKCS#11 logs a whole process in at once: a second session logging in to the
    same token is refused, so two backends (two apps in one process) share one,
    logged in with the PIN of the first.
    """
    with _tokens_lock:
        token = _tokens.get((module_path, token_label))
        if token is None:
            token = _tokens[(module_path, token_label)] = _Token(module_path, token_label, user_pin)
        return token


def _read_public(public: Any, alg: str) -> _PublicKey:
    """A cryptography public key from a PKCS#11 public key object."""
    if alg == "RS256":
        return RSAPublicNumbers(
            int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big"),
            int.from_bytes(public[Attribute.MODULUS], "big"),
        ).public_key()
    key = load_der_public_key(encode_ec_public_key(public))
    if not isinstance(key, EllipticCurvePublicKey) or not isinstance(key.curve, SECP256R1):
        raise SigningKeyError("the token's ES256 key is not on P-256")
    return key


def _public_jwk(public: _PublicKey, alg: str) -> RSAKey | ECKey:
    params = {"alg": alg, "use": "sig"}
    if isinstance(public, RSAPublicKey):
        return RSAKey.import_key(public, params)
    return ECKey.import_key(public, params)


class _RSASigner:
    """Signs in cryptography's RSAPrivateKey calling convention, which joserfc's RS256 uses."""

    def __init__(self, token: _Token, label: str) -> None:
        self._token = token
        self._label = label

    def sign(self, data: bytes, padding: object, algorithm: object) -> bytes:
        if not isinstance(padding, PKCS1v15) or not isinstance(algorithm, SHA256):
            raise SigningKeyError("a PKCS#11 RSA signing key signs RS256 only")
        return self._token.sign(self._label, "RS256", data)


class _ECSigner:
    """Signs in cryptography's EllipticCurvePrivateKey calling convention (DER out)."""

    def __init__(self, token: _Token, label: str) -> None:
        self._token = token
        self._label = label

    def sign(self, data: bytes, signature_algorithm: EllipticCurveSignatureAlgorithm) -> bytes:
        if not isinstance(signature_algorithm, ECDSA) or not isinstance(
            signature_algorithm.algorithm, SHA256
        ):
            raise SigningKeyError("a PKCS#11 EC signing key signs ES256 only")
        raw = self._token.sign(self._label, "ES256", hashlib.sha256(data).digest())
        if len(raw) != 64:
            raise SigningKeyError(f"the token returned a {len(raw)}-byte ES256 signature")
        # PKCS#11 answers r || s; joserfc expects DER from `sign` and converts it back.
        return encode_dss_signature(
            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        )


class _OnToken:
    """Mixin for a joserfc key whose private half is a signer on the token.

    Its JWK members are the public ones only, so nothing private can be exported.
    """

    def __init__(self, public: RSAKey | ECKey, signer: _RSASigner | _ECSigner) -> None:
        super().__init__(public.public_key, public.as_dict(private=False), None)
        self._signer = signer
        self.ensure_kid()

    @property
    def is_private(self) -> bool:
        return True

    @property
    def private_key(self) -> _RSASigner | _ECSigner:
        return self._signer


class _TokenRSAKey(_OnToken, RSAKey):
    """An RS256 key held by the token."""


class _TokenECKey(_OnToken, ECKey):
    """An ES256 key held by the token."""


class Pkcs11KeyBackend:
    """Generates key pairs inside a PKCS#11 token and signs with them there.

    Nothing touches the token until the first key is made or loaded, so a
    gunicorn worker opens its own session after the fork.
    """

    name: ClassVar[str] = "pkcs11"

    def __init__(self, module_path: str, token_label: str, user_pin: str) -> None:
        if not (module_path and token_label and user_pin):
            raise ValueError("a PKCS#11 module path, token label and user PIN are all needed")
        self._token = _token_for(module_path, token_label, user_pin)

    def generate(self, alg: str) -> tuple[str, dict]:
        """Create a sensitive, non-extractable key pair for `alg` on the token.

        Returns (the key's label on the token, public JWK); the kid is the
        RFC 7638 thumbprint, as for software keys.
        """
        check_alg(alg)
        label, public = self._token.generate(alg)
        key = _public_jwk(public, alg)
        return label, key.as_dict(private=False, kid=key.thumbprint())

    def destroy(self, stored_private: str, alg: str) -> None:
        """Delete the key pair labelled `stored_private` from the token."""
        check_alg(alg)
        self._token.destroy(stored_private)

    def release(self, stored_private: str, alg: str) -> None:
        """Nothing to let go of: the private part never leaves the token."""

    def load_private(self, stored_private: str, alg: str) -> Key:
        """A joserfc key for `alg` that signs with the token's key labelled `stored_private`.

        Its public members are read from the token, so a label that names
        another key pair fails the key ring's thumbprint check.
        """
        check_alg(alg)
        public = _public_jwk(self._token.public_key(stored_private, alg), alg)
        if alg == "RS256":
            return _TokenRSAKey(public, _RSASigner(self._token, stored_private))
        return _TokenECKey(public, _ECSigner(self._token, stored_private))


_KEK_AAD = b"idp data key v1"


class Pkcs11Kek:
    """The key-encryption key of personal data (idp.store.data_keys) as an AES-256 key on
    the token: data keys are wrapped and unwrapped there with AES-GCM, and the KEK, made
    sensitive and non-extractable on first use, never leaves the HSM."""

    def __init__(self, module_path: str, token_label: str, user_pin: str, label: str) -> None:
        if not (module_path and token_label and user_pin and label):
            raise ValueError("a PKCS#11 module path, token label, user PIN and key label "
                             "are all needed")
        self._token = _token_for(module_path, token_label, user_pin)
        self._label = label
        self.name = f"pkcs11:{label}"

    def wrap(self, key: bytes) -> bytes:
        """nonce (12) | AES-GCM of `key` under the token's KEK."""
        nonce = secrets.token_bytes(12)
        sealed = self._token._run(lambda session: self._kek(session).encrypt(
            key, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, _KEK_AAD)))
        return nonce + sealed

    def unwrap(self, wrapped: bytes) -> bytes:
        """The key that `wrap` sealed; raises SigningKeyError if the token refuses it."""
        return self._token._run(lambda session: self._kek(session).decrypt(
            wrapped[12:], mechanism=Mechanism.AES_GCM,
            mechanism_param=GCMParams(wrapped[:12], _KEK_AAD)))

    def _kek(self, session: pkcs11.Session) -> Any:
        found = self._token._objects.get((self._label, ObjectClass.SECRET_KEY))
        if found is None:
            try:
                found = session.get_key(object_class=ObjectClass.SECRET_KEY,
                                        key_type=KeyType.AES, label=self._label)
            except NoSuchKey:
                found = session.generate_key(
                    KeyType.AES, 256, label=self._label, store=True,
                    capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                    template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False})
            self._token._objects[(self._label, ObjectClass.SECRET_KEY)] = found
        return found
