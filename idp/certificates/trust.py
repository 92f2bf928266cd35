"""The root CAs and licensed CAs a certificate must chain to, and the CRLs that revoke one.

USB tokens and SIMs carry certificates from the same licensed CAs, so both methods check
against these anchors, read once at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app

from connectors.pki import CrlStore, load_certificates
from idp.config import ConfigError, Settings


@dataclass(frozen=True)
class TrustAnchors:
    """The configured roots and licensed CAs (DER), and the CRL store; built at start-up."""

    roots: tuple[bytes, ...]
    intermediates: tuple[bytes, ...]
    crls: CrlStore

    @classmethod
    def from_settings(cls, settings: Settings) -> TrustAnchors:
        """Read every configured certificate file; a missing one stops the start-up."""
        # The CAs are configured in the [usb_token] section, which the operators' files name.
        usb = settings.usb_token

        def read(key: str, paths: tuple[str, ...]) -> tuple[bytes, ...]:
            certificates: list[bytes] = []
            for value in paths:
                try:
                    certificates += load_certificates(settings.path(value))
                except OSError as exc:
                    raise ConfigError(
                        f"invalid configuration:\n  usb_token.{key}: cannot read {value} "
                        f"({exc.strerror})") from None
            return tuple(certificates)

        return cls(
            roots=read("trusted_roots", usb.trusted_roots),
            intermediates=read("intermediates", usb.intermediates),
            crls=CrlStore(usb.crl_sources, base_dir=settings.base_dir, timeout=usb.crl_timeout,
                          max_age=timedelta(seconds=usb.crl_max_age)),
        )


def init_trust(app: Flask, settings: Settings) -> None:
    """Load the trust anchors once for this app (key and certificate parsing is not per
    request)."""
    app.extensions["idp.certificate_trust"] = TrustAnchors.from_settings(settings)


def trust_anchors() -> TrustAnchors:
    """This app's trust anchors."""
    return current_app.extensions["idp.certificate_trust"]


def trust_configured() -> bool:
    """Whether any certificate can be accepted here: some trusted root CA is configured."""
    return bool(trust_anchors().roots)
