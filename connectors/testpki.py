"""A test PKI shaped like Vietnam's: a national root, a licensed CA, end-entity certificates.

For tests, the demo and SoftHSM tokens only: private keys are written unencrypted.
Identity sits in the subject the Vietnamese way (UID ``CCCD:``/``CMND:``/``HC:``/``MST:``/
``MNS:``, organizationIdentifier, CN, O). ``python -m connectors.testpki DIR`` writes every
certificate (PEM and DER), key (PKCS#8 PEM), CRL (DER) and ``manifest.json`` into DIR.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
KeyKind = Literal["rsa", "ec"]

ORGANIZATION_IDENTIFIER = ObjectIdentifier("2.5.4.97")
ROOT_NAME = "CA Thử nghiệm Quốc gia"
LICENSED_CA_NAME = "Nhà cung cấp CKS thử nghiệm"
UNTRUSTED_ROOT_NAME = "CA Không được công nhận"
# A .test host (RFC 2606): the URLs only identify the CRLs, nothing ever fetches them.
CRL_BASE_URL = "http://crl.ca-thu-nghiem.test"
ENTERPRISE_TAX_CODE = "0312345673"
AGENCY_TAX_CODE = "0107654326"
AGENCY_BUDGET_CODE = "1085326"


def new_key(kind: KeyKind) -> PrivateKey:
    """A fresh RSA 2048 or ECDSA P-256 key."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def subject_name(
    common_name: str,
    *,
    uids: tuple[str, ...] = (),
    organization: str | None = None,
    organization_identifier: str | None = None,
    locality: str = "Hà Nội",
) -> x509.Name:
    """A subject as Vietnamese CAs write it; each UID is its own RDN, several are allowed."""
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                  x509.NameAttribute(NameOID.LOCALITY_NAME, locality)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    if organization_identifier:
        attributes.append(x509.NameAttribute(ORGANIZATION_IDENTIFIER, organization_identifier))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    attributes += [x509.NameAttribute(NameOID.USER_ID, uid) for uid in uids]
    return x509.Name(attributes)


@dataclass
class CertificateAuthority:
    """A CA that issues certificates and CRLs; `crl_url` is where its CRL is published."""

    key: PrivateKey
    certificate: x509.Certificate
    crl_url: str
    revoked: list[x509.Certificate] = field(default_factory=list)

    @classmethod
    def root(cls, common_name: str, slug: str, *, now: datetime) -> CertificateAuthority:
        key = new_key("rsa")
        name = subject_name(common_name, organization=common_name)
        builder = _builder(name, name, key.public_key(), key.public_key(),
                           now - timedelta(days=365), now + timedelta(days=3650))
        return cls(key, _ca_extensions(builder, path_length=1).sign(key, hashes.SHA256()),
                   f"{CRL_BASE_URL}/{slug}.crl")

    def subordinate(self, common_name: str, slug: str, *, now: datetime) -> CertificateAuthority:
        """A licensed CA under this root, pointing at the root's CRL."""
        key = new_key("rsa")
        builder = _builder(subject_name(common_name, organization=common_name),
                           self.certificate.subject, key.public_key(), self.key.public_key(),
                           now - timedelta(days=300), now + timedelta(days=1800))
        builder = _ca_extensions(builder, path_length=0).add_extension(
            _distribution_points(self.crl_url), critical=False)
        return type(self)(key, builder.sign(self.key, hashes.SHA256()),
                          f"{CRL_BASE_URL}/{slug}.crl")

    def issue(
        self,
        subject: x509.Name,
        public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
        *,
        not_before: datetime,
        not_after: datetime,
        digital_signature: bool = True,
        birthdate: date | None = None,
    ) -> x509.Certificate:
        """An end-entity certificate; without `digital_signature` it may only encipher keys;
        `birthdate` goes into subjectDirectoryAttributes (dateOfBirth, RFC 3739)."""
        usage = dict.fromkeys(
            ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"), False)
        usage.update(digital_signature=digital_signature, content_commitment=digital_signature,
                     key_encipherment=not digital_signature)
        builder = (
            _builder(subject, self.certificate.subject, public_key, self.key.public_key(),
                     not_before, not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(**usage), critical=True)
            .add_extension(_distribution_points(self.crl_url), critical=False)
        )
        if birthdate is not None:
            builder = builder.add_extension(_date_of_birth(birthdate), critical=False)
        return builder.sign(self.key, hashes.SHA256())

    def crl(
        self, *, this_update: datetime, next_update: datetime
    ) -> x509.CertificateRevocationList:
        """A full CRL listing every certificate in `revoked`."""
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(this_update)
            .next_update(next_update)
            .add_extension(x509.CRLNumber(1), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.key.public_key()), critical=False)
        )
        for certificate in self.revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(certificate.serial_number)
                .revocation_date(this_update - timedelta(hours=1))
                .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
                .build()
            )
        return builder.sign(self.key, hashes.SHA256())


def _builder(subject: x509.Name, issuer: x509.Name, public_key: Any, issuer_key: Any,
             not_before: datetime, not_after: datetime) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key),
                       critical=False)
    )


def _ca_extensions(
    builder: x509.CertificateBuilder, *, path_length: int
) -> x509.CertificateBuilder:
    return builder.add_extension(
        x509.BasicConstraints(ca=True, path_length=path_length), critical=True
    ).add_extension(
        x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                      data_encipherment=False, key_agreement=False, key_cert_sign=True,
                      crl_sign=True, encipher_only=False, decipher_only=False),
        critical=True,
    )


def _date_of_birth(birthdate: date) -> x509.UnrecognizedExtension:
    # RFC 3739 §3.2.2: noon UTC, so the date reads the same in every time zone.
    moment = datetime(birthdate.year, birthdate.month, birthdate.day, 12, tzinfo=UTC)
    value = asn1_x509.SubjectDirectoryAttributes(
        [{"type": "pda_date_of_birth", "values": [moment]}]).dump()
    return x509.UnrecognizedExtension(ObjectIdentifier("2.5.29.9"), value)


def _distribution_points(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints([x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(url)], relative_name=None, reasons=None,
        crl_issuer=None)])


@dataclass(frozen=True)
class EndEntity:
    """One certificate of the test PKI: who it names and what verifying it must give."""

    name: str
    key_kind: KeyKind
    subject: x509.Name
    identity: dict[str, str]
    expected: str = "ok"
    valid_days: tuple[int, int] = (-30, 730)
    digital_signature: bool = True
    untrusted: bool = False
    revoked: bool = False
    birthdate: date | None = None
    """Vouched for in the certificate (dateOfBirth), as some CAs do."""


def _citizen(name: str, key_kind: KeyKind, expected: str = "ok", **options: Any) -> EndEntity:
    return EndEntity(name, key_kind, subject_name("Nguyễn Văn An", uids=("CCCD:001090001234",)),
                     {"kind": "citizen", "cccd": "001090001234"}, expected, **options)


END_ENTITIES = (
    _citizen("citizen-rsa", "rsa"),
    EndEntity(
        "citizen-ec", "ec",
        subject_name("Trần Thị Bình", uids=("CCCD:079195000123", "CMND:025123456"),
                     locality="Thành phố Hồ Chí Minh"),
        {"kind": "citizen", "cccd": "079195000123", "cmnd": "025123456",
         "birthdate": "1995-08-21"},
        birthdate=date(1995, 8, 21),
    ),
    EndEntity(
        "enterprise", "rsa",
        subject_name("Công ty TNHH Phần mềm Sông Hồng", uids=(f"MST:{ENTERPRISE_TAX_CODE}",),
                     organization="Công ty TNHH Phần mềm Sông Hồng",
                     organization_identifier=f"VATVN-{ENTERPRISE_TAX_CODE}",
                     locality="Thành phố Hồ Chí Minh"),
        {"kind": "enterprise", "tax_code": ENTERPRISE_TAX_CODE},
    ),
    EndEntity(
        "agency", "ec",
        subject_name("Sở Khoa học và Công nghệ tỉnh Thử Nghiệm",
                     uids=(f"MNS:{AGENCY_BUDGET_CODE}", f"MST:{AGENCY_TAX_CODE}"),
                     organization="Ủy ban nhân dân tỉnh Thử Nghiệm"),
        {"kind": "agency", "budget_code": AGENCY_BUDGET_CODE, "tax_code": AGENCY_TAX_CODE},
    ),
    _citizen("expired", "ec", "expired", valid_days=(-760, -30)),
    _citizen("not-yet-valid", "ec", "not_yet_valid", valid_days=(30, 760)),
    _citizen("no-digital-signature", "ec", "key_usage", digital_signature=False),
    _citizen("untrusted", "ec", "untrusted", untrusted=True),
    _citizen("revoked", "ec", "revoked", revoked=True),
)


def generate(directory: Path, *, now: datetime | None = None) -> dict[str, Any]:
    """Write the whole test PKI into `directory` and return its manifest."""
    now = now or datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    root = CertificateAuthority.root(ROOT_NAME, "root", now=now)
    licensed = root.subordinate(LICENSED_CA_NAME, "licensed-ca", now=now)
    untrusted_root = CertificateAuthority.root(UNTRUSTED_ROOT_NAME, "untrusted-root", now=now)
    manifest: dict[str, Any] = {
        "generated_at": now.isoformat(),
        "trusted_roots": [_write_certificate(directory, "root", root.certificate)["pem"]],
        "intermediates": [
            _write_certificate(directory, "licensed-ca", licensed.certificate)["pem"]],
        "untrusted_roots": [
            _write_certificate(directory, "untrusted-root", untrusted_root.certificate)["pem"]],
        "certificates": {},
    }
    for entity in END_ENTITIES:
        key = new_key(entity.key_kind)
        issuer = untrusted_root if entity.untrusted else licensed
        certificate = issuer.issue(
            entity.subject, key.public_key(), digital_signature=entity.digital_signature,
            birthdate=entity.birthdate, not_before=now + timedelta(days=entity.valid_days[0]),
            not_after=now + timedelta(days=entity.valid_days[1]))
        if entity.revoked:
            issuer.revoked.append(certificate)
        (directory / f"{entity.name}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        manifest["certificates"][entity.name] = {
            **_write_certificate(directory, entity.name, certificate),
            "key": f"{entity.name}.key", "key_type": entity.key_kind,
            "identity": entity.identity, "expected": entity.expected,
        }
    manifest["crls"] = []
    for ca, slug in ((root, "root"), (licensed, "licensed-ca")):
        crl = ca.crl(this_update=now - timedelta(hours=1), next_update=now + timedelta(days=7))
        (directory / f"{slug}.crl").write_bytes(crl.public_bytes(serialization.Encoding.DER))
        manifest["crls"].append(f"{slug}.crl")
    (directory / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def _write_certificate(directory: Path, name: str, certificate: x509.Certificate) -> dict[str, str]:
    (directory / f"{name}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}.der").write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    return {"pem": f"{name}.pem", "der": f"{name}.der"}


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m connectors.testpki DIR``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m connectors.testpki DIR", file=sys.stderr)
        return 2
    directory = Path(args[0])
    manifest = generate(directory)
    print(f"test PKI written to {directory}: {len(manifest['certificates'])} certificates, "
          f"manifest {directory / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
