"""The rules of QR-code shares: making one, listing and revoking them, reading one, purging.

A share names items, never copies their values; the code in its URL carries 256 random
bits and is stored as a digest for lookup, sealed for showing the QR again. A read signs
a fresh credential from the account as it is then; a one-time share is claimed by one
atomic update, so two readers racing for it cannot both get it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from idp.audit import record_event
from idp.params import parse_number
from idp.provider import provider
from idp.security.sealed import seal, unseal
from idp.sharing.claims import CLAIM_LABELS
from idp.sharing.credential import issue_credential
from idp.sharing.items import claims_of, offered_items
from idp.sharing.status import draw_entry, local_status
from idp.sharing.verifier import (
    SHARE_PATH,
    UNREADABLE,
    UNTRUSTED_ISSUER,
    Verification,
    classify_qr,
    verify_credential,
)
from idp.store.models import Account, IdentityShare

SEAL_PURPOSE = "identity-share-code"
NOTE_MAX = 100
VALIDITIES = {300: "5 phút", 900: "15 phút", 1800: "30 phút", 3600: "1 giờ",
              4 * 3600: "4 giờ", 8 * 3600: "8 giờ", 24 * 3600: "24 giờ"}
"""What the form offers, in seconds, within [sharing] min_validity..max_validity."""
DEFAULT_VALIDITY = 900


class ShareFormError(ValueError):
    """The sharing form has mistakes: Vietnamese messages by field name."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ShareRequest:
    items: list[str]
    note: str | None
    validity: int
    one_time: bool


def validity_choices() -> dict[int, str]:
    """The validities this deployment allows, in seconds, with their Vietnamese names."""
    sharing = provider().settings.sharing
    return {seconds: label for seconds, label in VALIDITIES.items()
            if sharing.min_validity <= seconds <= sharing.max_validity}


def parse_request(account: Account, items: list[str], note: str, validity: str,
                  use: str) -> ShareRequest:
    """Check the sharing form; raises ShareFormError naming each wrong field."""
    errors = {}
    offered = [offer.claim for offer in offered_items(account)]
    chosen = [claim for claim in offered if claim in items]
    if not chosen or len(chosen) != len(set(items)):
        errors["items"] = "Hãy chọn ít nhất một thông tin để chia sẻ."
    note = " ".join(note.split())
    if len(note) > NOTE_MAX:
        errors["note"] = f"Ghi chú dài tối đa {NOTE_MAX} ký tự."
    choices = validity_choices()
    seconds = parse_number(validity, maximum=max(choices)) or 0
    if seconds not in choices:
        errors["validity"] = "Hãy chọn thời hạn của mã QR."
    if use not in ("once", "many"):
        errors["use"] = "Hãy chọn mã QR dùng một lần hay nhiều lần."
    most = provider().settings.sharing.max_live_shares
    if not errors and len(live_shares(account.id)) >= most:
        errors["items"] = (f"Bạn đang có {most} mã QR còn hiệu lực. Hãy thu hồi bớt mã không "
                           "dùng nữa trước khi tạo mã mới.")
    if errors:
        raise ShareFormError(errors)
    return ShareRequest(chosen, note or None, seconds, use == "once")


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def share_url(code: str) -> str:
    """The short URL the QR code carries."""
    return f"{provider().issuer}{SHARE_PATH}{code}"


def create_share(account: Account, wanted: ShareRequest) -> tuple[IdentityShare, str]:
    """Make a share of `wanted` for `account`; returns it with the code of its URL."""
    session = provider().db.session
    now = datetime.now(UTC)
    # The account's ended shares go now; `idp sharing purge` clears everyone's.
    session.execute(delete(IdentityShare).where(IdentityShare.account_id == account.id,
                                                IdentityShare.expires_at <= now))
    code = secrets.token_urlsafe(32)
    for _attempt in range(5):
        list_id, index = draw_entry(session)
        share = IdentityShare(
            account_id=account.id, code_digest=_digest(code),
            code_sealed=seal(code, SEAL_PURPOSE), items=wanted.items, note=wanted.note,
            one_time=wanted.one_time, created_at=now,
            expires_at=now + timedelta(seconds=wanted.validity),
            read_count=0, status_list=list_id, status_index=index,
        )
        try:
            with session.begin_nested():
                session.add(share)
        except IntegrityError:  # another share drew the same entry at the same moment
            continue
        session.commit()
        record_event("share.create", "success", account_id=account.id, share=share.id,
                     items=wanted.items, one_time=wanted.one_time, validity=wanted.validity)
        return share, code
    raise RuntimeError("no free status-list entry after 5 draws")


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def live_shares(account_id: int) -> list[IdentityShare]:
    """The account's shares that have neither expired nor been revoked, newest first."""
    return list(provider().db.session.scalars(
        select(IdentityShare)
        .where(IdentityShare.account_id == account_id,
               IdentityShare.expires_at > datetime.now(UTC),
               IdentityShare.revoked_at.is_(None))
        .order_by(IdentityShare.id.desc())
    ))


def own_share(account_id: int, share_id: int) -> IdentityShare | None:
    """One live share of the account (None for another account's or an ended one)."""
    return next((share for share in live_shares(account_id) if share.id == share_id), None)


def code_of(share: IdentityShare) -> str:
    """The code of a share's URL, to show its QR code again."""
    return unseal(share.code_sealed, SEAL_PURPOSE)


def revoke_share(account_id: int, share_id: int) -> bool:
    """Revoke one of the account's live shares: its URL stops answering and its status
    list entry says revoked to anyone checking a credential already read."""
    session = provider().db.session
    revoked = session.execute(
        update(IdentityShare)
        .where(IdentityShare.id == share_id, IdentityShare.account_id == account_id,
               IdentityShare.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    ).rowcount
    session.commit()
    if revoked:
        record_event("share.revoke", "success", account_id=account_id, share=share_id)
    return bool(revoked)


@dataclass
class ReadOutcome:
    """What reading a share's URL gave: a credential, or why not (`refused`)."""

    credential: str | None = None
    refused: str | None = None
    """not_found, expired, revoked or used."""
    items: list[str] = field(default_factory=list)


def read_share(code: str, reader_ip: str | None) -> ReadOutcome:
    """Sign a credential of the share with this code, or say why not; audited either way
    (the citizen's access history shows when and from where each share was read)."""
    session = provider().db.session
    share = session.scalar(select(IdentityShare).where(
        IdentityShare.code_digest == _digest(code))) if len(code) <= 64 else None
    if share is None:
        record_event("share.read", "failure", reason="not_found")
        return ReadOutcome(refused="not_found")
    now = datetime.now(UTC)
    account = session.get(Account, share.account_id)
    refused = None
    if share.revoked_at is not None or account is None or account.status != "active":
        refused = "revoked"
    elif _utc(share.expires_at) <= now:
        refused = "expired"
    elif share.one_time and share.used_at is not None:
        refused = "used"
    credential = None
    if refused is None:
        credential = issue_credential(
            claims_of(account, share.items), expires_at=int(_utc(share.expires_at).timestamp()),
            status_list=share.status_list, status_index=share.status_index)
        claim = update(IdentityShare).where(IdentityShare.id == share.id)
        if share.one_time:  # only the first of racing readers changes the row
            claim = claim.where(IdentityShare.used_at.is_(None)).values(used_at=now)
        claimed = session.execute(claim.values(
            read_count=IdentityShare.read_count + 1, last_read_at=now, last_read_ip=reader_ip,
        )).rowcount
        session.commit()
        if not claimed:
            refused, credential = "used", None
    reason = {"reason": refused} if refused else {}
    record_event("share.read", "failure" if refused else "success", account_id=share.account_id,
                 share=share.id, items=list(share.items), **reason)
    return ReadOutcome(credential, refused, list(share.items))


def item_labels(items: list[str]) -> list[str]:
    """Vietnamese names of stored item keys (an item since removed is skipped)."""
    return [CLAIM_LABELS[item] for item in items if item in CLAIM_LABELS]


def purge_ended_shares(engine: Engine, *, now: datetime | None = None) -> int:
    """Delete shares that expired (revoked or not); their reads stay in the audit log."""
    before = now or datetime.now(UTC)
    with engine.begin() as connection:
        return connection.execute(
            delete(IdentityShare).where(IdentityShare.expires_at <= before)).rowcount


def verifier_retry_at(address: str | None) -> float:
    """When a verifier address over "sharing.verifier.address" may read shares again."""
    return provider().limits.resets_at("sharing.verifier.address", address or "-")


def verifier_allowed(address: str | None) -> bool:
    """Count one read or verification from a verifier address; False once the address is
    over the limit "sharing.verifier.address". The first refusal of a window is audited."""
    limits = provider().limits
    name = "sharing.verifier.address"
    allowed = limits.hit(name, address or "-")
    if not allowed and limits.count(name, address or "-") == limits.amount(name) + 1:
        record_event("share.verifier_limited", "refused", limit=limits.amount(name))
    return allowed


def verify_here(text: str, reader_ip: str | None) -> tuple[Verification, str | None]:
    """Check a QR code's text as any verifier would, with the provider's own keys and
    database: reads the share when it is one of ours. Returns the outcome and the
    credential checked (None when there was none). Audited."""
    p = provider()
    content = classify_qr(text, p.issuer)
    presentation = None
    if content.kind == "share":
        outcome = read_share(content.value, reader_ip)
        if outcome.refused:
            return Verification(outcome.refused, f"share {outcome.refused}"), None
        presentation = outcome.credential
    elif content.kind == "credential":
        presentation = content.value
    elif content.kind == "foreign":
        result = Verification(UNTRUSTED_ISSUER, "URL outside this issuer")
    else:
        result = Verification(UNREADABLE, "not a share")
    if presentation is not None:
        result = verify_credential(presentation, issuer=p.issuer,
                                   keys=p.keys.verification_keys(), status_of=local_status)
    record_event("share.verify", "success" if result.valid else "failure", status=result.status)
    return result, presentation
