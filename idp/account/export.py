""""Tải về dữ liệu của tôi": everything the provider holds about an account, for its owner
(Decree 13/2023, the rights to know and to obtain one's data).

One dictionary, written to a JSON file or shown on a page: identity, how it was verified,
phones, e-mail, certificates, portals allowed (consents and the refresh grants they hold),
live sessions, the account's whole history in the audit log, QR-code shares and the
complaints filed about it. Secrets are never in it: no password hash, TOTP secret, token or
session id, only whether they exist.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from sqlalchemy import select

from idp.account.history import describe_amr, describe_device, portal_names
from idp.audit import record_event
from idp.audit_labels import event_label, result_label
from idp.interaction.levels import LEVEL_LABELS, VERIFIED_BY
from idp.oidc.claims import GENDERS, SCOPES
from idp.oidc.claims import LABELS as CLAIM_LABELS
from idp.provider import provider
from idp.sessions import account_sessions
from idp.store.models import (
    Account,
    AuditEvent,
    Complaint,
    Consent,
    IdentityShare,
    RefreshToken,
)
from idp.vntime import vietnam_time

HISTORY_BATCH = 2000


def _when(moment: datetime | float | None) -> str | None:
    """Times in the file: ISO 8601 in UTC, as machines read them."""
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _identity(account: Account) -> dict:
    return {
        "subject": account.subject, "account_type": account.account_type,
        "full_name": account.full_name, "cccd": account.cccd,
        "birthdate": _day(account.birthdate), "birthdate_verified": account.birthdate_verified,
        "gender": GENDERS.get(account.gender, account.gender) if account.gender else None,
        "tax_code": account.tax_code, "budget_code": account.budget_code,
        "organization": account.organization, "bhxh_code": account.bhxh_code,
        "status": account.status, "created_at": _when(account.created_at),
        "password_set": account.password_hash is not None,
        "password_changed_at": _when(account.password_changed_at),
        "authenticator_app": account.totp_secret is not None,
    }


def _verification(account: Account) -> dict:
    return {
        "level": account.ial, "level_label": LEVEL_LABELS.get(account.ial),
        "verified_by": account.verified_by,
        "verified_by_label": VERIFIED_BY.get(account.verified_by, account.verified_by),
        "evidence": [{"method": item.method, "checked_at": _when(item.checked_at),
                      "organization": item.organization, "document": item.document}
                     # The counter's staff member is named by office only, as elsewhere.
                     for item in account.evidence],
    }


def _certificates(account: Account) -> list[dict]:
    return [{"kind": cert.kind, "common_name": cert.common_name, "issuer": cert.issuer,
             "serial": cert.serial_hex, "sha256_fingerprint": cert.sha256_fingerprint,
             "cccd": cert.cccd, "tax_code": cert.tax_code, "budget_code": cert.budget_code,
             "not_before": _when(cert.not_before), "not_after": _when(cert.not_after),
             "added_at": _when(cert.created_at), "last_used_at": _when(cert.last_used_at),
             "removed_at": _when(cert.removed_at)} for cert in account.certificates]


def _portals(account_id: int) -> tuple[list[dict], list[dict]]:
    """Consents, and the refresh grants portals hold (one line per live family)."""
    session = provider().db.session
    consents = session.scalars(select(Consent).where(Consent.account_id == account_id)
                               .order_by(Consent.id)).all()
    grants = session.execute(
        select(RefreshToken.client_id, RefreshToken.scope, RefreshToken.family_id,
               RefreshToken.issued_at, RefreshToken.expires_at)
        .where(RefreshToken.account_id == account_id, RefreshToken.revoked_at.is_(None),
               RefreshToken.rotated_at.is_(None), RefreshToken.expires_at > time.time())
        .order_by(RefreshToken.id)).all()
    names = portal_names({c.client_id for c in consents} | {g.client_id for g in grants})
    return (
        [{"portal": names.get(c.client_id, c.client_id), "client_id": c.client_id,
          "scopes": c.scopes, "scope_labels": [SCOPES[s][1] for s in c.scopes if s in SCOPES],
          "claims": c.claims or [], "granted_at": _when(c.granted_at)} for c in consents],
        [{"portal": names.get(g.client_id, g.client_id), "client_id": g.client_id,
          "scope": g.scope, "last_issued_at": _when(g.issued_at),
          "expires_at": _when(g.expires_at)} for g in grants],
    )


def _sessions(account_id: int) -> list[dict]:
    live = sorted(account_sessions(account_id), key=lambda s: s.auth_time)
    names = portal_names({client for s in live for client in s.clients})
    return [{"started_at": _when(float(s.auth_time)), "expires_at": _when(s.expires),
             "method": describe_amr(s.amr), "acr": s.acr,
             "portals": [names.get(client, client) for client in s.clients]} for s in live]


def _history(account_id: int) -> list[dict]:
    """Every audit row about the account, oldest first (staff named by role only)."""
    session = provider().db.session
    rows: list[dict] = []
    last = 0
    while True:
        batch = session.scalars(
            select(AuditEvent).where(AuditEvent.account_id == account_id, AuditEvent.id > last)
            .order_by(AuditEvent.id).limit(HISTORY_BATCH)).all()
        if not batch:
            break
        names = portal_names({row.client_id for row in batch if row.client_id})
        rows.extend({
            "at": _when(row.at), "event": row.event, "event_label": event_label(row.event),
            "result": row.result, "result_label": result_label(row.result),
            "ip": row.ip, "device": describe_device(row.user_agent),
            "portal": names.get(row.client_id, row.client_id) if row.client_id else None,
            "by_staff": row.actor is not None, "staff_role": row.actor_role,
        } for row in batch)
        last = batch[-1].id
    return rows


def _shares(account_id: int) -> list[dict]:
    shares = provider().db.session.scalars(
        select(IdentityShare).where(IdentityShare.account_id == account_id)
        .order_by(IdentityShare.id)).all()
    return [{"items": share.items, "item_labels": [CLAIM_LABELS.get(i, i) for i in share.items],
             "note": share.note, "one_time": share.one_time,
             "created_at": _when(share.created_at), "expires_at": _when(share.expires_at),
             "revoked_at": _when(share.revoked_at), "used_at": _when(share.used_at),
             "read_count": share.read_count, "last_read_at": _when(share.last_read_at),
             "last_read_ip": share.last_read_ip} for share in shares]


def _complaints(account_id: int) -> list[dict]:
    complaints = provider().db.session.scalars(
        select(Complaint).where(Complaint.account_id == account_id).order_by(Complaint.id)).all()
    return [{"number": c.id, "kind": c.kind, "filed_at": _when(c.created_at),
             "login": c.event, "status": c.status, "resolution": c.resolution,
             "handled_at": _when(c.handled_at)} for c in complaints]


def personal_data(account: Account, export_format: str) -> dict:
    """Everything held about `account`; the export is audited (`export_format`: json or
    html) before it is built, so the file's own history includes it."""
    record_event("account.export", "success", account_id=account.id, format=export_format)
    consents, grants = _portals(account.id)
    return {
        "generated_at": _when(time.time()),
        "generated_at_vietnam": vietnam_time(time.time()),
        "identity": _identity(account),
        "verification": _verification(account),
        "phones": [{"phone": phone.phone, "default": phone.is_default,
                    "added_at": _when(phone.created_at)} for phone in account.phones],
        "emails": ([{"email": account.email, "verified": account.email_verified}]
                   if account.email else []),
        "certificates": _certificates(account),
        "consents": consents,
        "portal_grants": grants,
        "sessions": _sessions(account.id),
        "history": _history(account.id),
        "qr_shares": _shares(account.id),
        "complaints": _complaints(account.id),
    }
