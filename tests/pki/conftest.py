"""The test PKI, generated once per session, and a CA for certificates made to measure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from connectors.pki import CertificateIdentity, verify_certificate
from connectors.testpki import CertificateAuthority, generate


@dataclass(frozen=True)
class Pki:
    """A generated test PKI directory and the trust configuration built from it."""

    directory: Path
    manifest: dict[str, Any]

    def read(self, relative: str) -> bytes:
        return (self.directory / relative).read_bytes()

    @property
    def roots(self) -> list[bytes]:
        return [self.read(path) for path in self.manifest["trusted_roots"]]

    @property
    def intermediates(self) -> list[bytes]:
        return [self.read(path) for path in self.manifest["intermediates"]]

    @property
    def crls(self) -> list[bytes]:
        return [self.read(path) for path in self.manifest["crls"]]

    def der(self, name: str) -> bytes:
        return self.read(self.manifest["certificates"][name]["der"])

    def key(self, name: str) -> Any:
        return serialization.load_pem_private_key(
            self.read(self.manifest["certificates"][name]["key"]), password=None)

    def verify(self, cert_der: bytes, **overrides: Any) -> CertificateIdentity:
        """verify_certificate with this PKI's roots, intermediates and CRLs, as configured."""
        arguments = {"trusted_roots": self.roots, "intermediates": self.intermediates,
                     "crls": self.crls, **overrides}
        return verify_certificate(cert_der, **arguments)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    generate(directory)
    return Pki(directory, json.loads((directory / "manifest.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="session")
def issuing_ca() -> CertificateAuthority:
    """A stand-alone CA for subjects the manifest does not have (identity parsing)."""
    return CertificateAuthority.root("CA Kiểm thử định danh", "identity-ca", now=datetime.now(UTC))
