"""What an account can share by QR code: one item per claim, each read from the account.

An item is offered only when the account holds a value the provider can vouch for (a
verified e-mail address, not any address typed in), and only for the account types it
belongs to: organisations share their tax code and name, citizens their birth data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from idp.sharing.claims import CLAIM_LABELS, describe
from idp.store.models import Account
from vnid.person import mask_cccd, mask_phone

CITIZEN = frozenset({"citizen"})
ORGANISATION = frozenset({"enterprise", "agency"})
EVERYONE = CITIZEN | ORGANISATION


@dataclass(frozen=True)
class Item:
    claim: str
    """The disclosure's claim name; also the form value and what the audit records."""
    account_types: frozenset[str]
    value: Callable[[Account], object | None]
    """The value to disclose, or None when the account has none to vouch for."""


def _phone(account: Account) -> str | None:
    return account.default_phone.phone if account.default_phone else None


ITEMS = {item.claim: item for item in (
    Item("name", EVERYONE, lambda a: a.full_name),
    Item("birthdate", CITIZEN, lambda a: a.birthdate.isoformat() if a.birthdate else None),
    Item("gender", CITIZEN, lambda a: a.gender),
    Item("cccd", CITIZEN, lambda a: a.cccd),
    Item("phone_number", EVERYONE, _phone),
    Item("email", EVERYONE, lambda a: a.email if a.email and a.email_verified else None),
    Item("identity_assurance", EVERYONE,
         lambda a: {"level": a.ial, "verified_by": a.verified_by}),
    Item("tax_code", ORGANISATION, lambda a: a.tax_code),
    Item("organization_name", ORGANISATION, lambda a: a.organization or a.full_name),
)}


MASKED = {"cccd": mask_cccd, "phone_number": mask_phone}
"""Shown partly hidden on the citizen's screens, as the console shows them (the screen
with the QR code is shown to others); the credential carries them in full."""


@dataclass(frozen=True)
class Offer:
    """One item as the sharing form offers it."""

    claim: str
    label: str
    value: str


def offered_items(account: Account) -> list[Offer]:
    """The items this account can share, with their current values, in the pages' order."""
    offers = []
    for claim, label in CLAIM_LABELS.items():
        item = ITEMS[claim]
        if account.account_type in item.account_types:
            value = item.value(account)
            if value is not None:
                shown = MASKED[claim](value) if claim in MASKED else describe(claim, value)
                offers.append(Offer(claim, label, shown))
    return offers


def claims_of(account: Account, chosen: list[str]) -> dict:
    """The values of the `chosen` items, read now: never another item, and an item whose
    value has gone since the share was made (an e-mail removed) is left out."""
    claims = {}
    for claim in chosen:
        item = ITEMS.get(claim)
        if item is not None and account.account_type in item.account_types:
            value = item.value(account)
            if value is not None:
                claims[claim] = value
    return claims
