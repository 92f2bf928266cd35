"""Who a Vietnamese certificate names, read from its subject.

Licensed CAs put identity numbers in UID attributes (0.9.2342.19200300.100.1.1) with a
prefix: ``CCCD:`` personal identification number, ``CMND:`` old identity card, ``HC:``
passport, ``MST:`` tax code, ``MNS:`` state budget relationship code. A subject may carry
several; organisations may also carry ETSI's organizationIdentifier (``VATVN-<MST>``). A
CA that checked a person's birth date may put it in the subjectDirectoryAttributes
extension (RFC 3739 §3.2.2, dateOfBirth); it is read when present.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from asn1crypto import x509

from connectors.pki.refusals import CertificateRefused
from vnid.person import InvalidField, validate_cccd
from vnid.tax_code import validate_tax_code

Kind = Literal["citizen", "enterprise", "agency"]

_CMND = re.compile(r"[0-9]{9}|[0-9]{12}")  # 9 digits; the 2012–2016 card model had 12
_PASSPORT = re.compile(r"[A-Z0-9]{6,20}")
_BUDGET_CODE = re.compile(r"[0-9]{7}")  # Circular 185/2015/TT-BTC: 7 digits
# ETSI EN 319 412-1 §5.1.4: tax (VAT) or national trade register number, then country.
_ORGANIZATION_ID = re.compile(r"(?:VAT|NTR)VN-([0-9-]+)")


@dataclass(frozen=True, slots=True, repr=False)
class CertificateIdentity:
    """The identity a verified certificate vouches for, plus what identifies the certificate."""

    kind: Kind
    cccd: str | None
    cmnd: str | None
    passport: str | None
    tax_code: str | None
    budget_code: str | None
    organization_identifier: str | None
    common_name: str | None
    organization: str | None
    serial_hex: str
    issuer: str
    not_after: datetime
    sha256_fingerprint: str
    birthdate: date | None = None
    """The birth date the CA vouches for (dateOfBirth), when the certificate carries one."""
    not_before: datetime | None = None

    def __repr__(self) -> str:
        # Identities end up in logs and tracebacks: name the certificate, not the person.
        return (f"CertificateIdentity(kind={self.kind!r}, serial_hex={self.serial_hex!r}, "
                f"sha256_fingerprint={self.sha256_fingerprint[:16]!r}...)")


def _refuse(detail: str) -> CertificateRefused:
    return CertificateRefused("no_identity", detail=detail)


def _tax_code(value: str) -> str:
    try:
        return validate_tax_code(value)
    except InvalidField:
        raise _refuse("a tax code (MST) in the subject is not valid") from None


def _check(pattern: re.Pattern[str], value: str, label: str) -> str:
    if not pattern.fullmatch(value):
        raise _refuse(f"the {label} in the subject is not valid")
    return value


def _cccd(value: str) -> str:
    try:
        return validate_cccd(value)
    except InvalidField:
        raise _refuse("the CCCD in the subject is not valid") from None


_UID_PARSERS = {
    "CCCD": ("cccd", _cccd),
    "CMND": ("cmnd", lambda value: _check(_CMND, value, "CMND")),
    "HC": ("passport", lambda value: _check(_PASSPORT, value.upper(), "passport number")),
    "MST": ("tax_code", _tax_code),
    "MNS": ("budget_code", lambda value: _check(_BUDGET_CODE, value, "budget code (MNS)")),
}


def _subject_values(name: x509.Name) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for rdn in name.chosen:
        for attribute in rdn:
            value = attribute["value"].native
            if isinstance(value, str):
                values.setdefault(attribute["type"].native, []).append(value.strip())
    return values


def _birthdate(certificate: x509.Certificate) -> date | None:
    for extension in certificate["tbs_certificate"]["extensions"] or []:
        if extension["extn_id"].native != "subject_directory_attributes":
            continue
        for attribute in extension["extn_value"].parsed:
            if attribute["type"].native == "pda_date_of_birth" and len(attribute["values"]):
                return attribute["values"][0].native.date()
    return None


def _set_once(found: dict[str, str], field: str, value: str) -> None:
    # Two different numbers of one kind leave no way to tell which person is meant.
    if found.setdefault(field, value) != value:
        raise CertificateRefused("conflicting_identity", detail=f"two different {field} values")


def read_identity(certificate: x509.Certificate) -> CertificateIdentity:
    """Read the identity from a parsed certificate (its chain is checked elsewhere).

    Raises CertificateRefused("no_identity") when no identity number is present or one is
    invalid (a certificate carrying a wrong number is not trusted for any of them), and
    "conflicting_identity" when two values of one kind differ.
    """
    subject = _subject_values(certificate.subject)
    found: dict[str, str] = {}
    for uid in subject.get("user_id", []):
        prefix, separator, value = uid.partition(":")
        parser = _UID_PARSERS.get(prefix.strip().upper())
        # Other prefixes (CAs add their own customer numbers) say nothing about identity.
        if separator and parser:
            field, parse = parser
            _set_once(found, field, parse("".join(value.split())))
    organization_identifier = (subject.get("organization_identifier") or [None])[0]
    if organization_identifier and (match := _ORGANIZATION_ID.fullmatch(organization_identifier)):
        _set_once(found, "tax_code", _tax_code(match.group(1)))
    organization = (subject.get("organization_name") or [None])[0]
    personal = any(field in found for field in ("cccd", "cmnd", "passport"))
    kind: Kind
    if "budget_code" in found:
        kind = "agency"
    elif "tax_code" in found and (organization or organization_identifier or not personal):
        kind = "enterprise"
    elif personal:
        # A person's own tax code may sit beside their CCCD; they are still a citizen.
        kind = "citizen"
    else:
        raise _refuse("no CCCD, CMND, passport, tax code or budget code in the subject")
    issuer = certificate.issuer.native
    return CertificateIdentity(
        kind=kind,
        cccd=found.get("cccd"),
        cmnd=found.get("cmnd"),
        passport=found.get("passport"),
        tax_code=found.get("tax_code"),
        budget_code=found.get("budget_code"),
        organization_identifier=organization_identifier,
        common_name=(subject.get("common_name") or [None])[0],
        organization=organization,
        serial_hex=format(certificate.serial_number, "x"),
        issuer=issuer.get("common_name") or certificate.issuer.human_friendly,
        not_after=certificate.not_valid_after,
        sha256_fingerprint=certificate.sha256.hex(),
        birthdate=_birthdate(certificate),
        not_before=certificate.not_valid_before,
    )
