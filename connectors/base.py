"""Protocols every connector implements, and the typed outcomes they report.

The framework (rate limits, retries, audit) lives in `idp`; a connector only
talks to its outside system and says what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

# Vietnamese names of the outside systems, for the message a citizen sees.
_SYSTEM_NAMES = {
    "carrier": "kiểm tra thuê bao di động của nhà mạng",
    "bhxh": "tra cứu của Bảo hiểm xã hội Việt Nam",
    "post": "xác thực của Bưu điện Việt Nam",
    "sms": "gửi tin nhắn SMS",
    "email": "gửi thư điện tử",
}


class ConnectorSettings(BaseModel):
    """A connector's section of the provider's configuration ([sms], [carrier]...).

    Each connector subclasses it with its own keys, defaults and checks; the provider
    validates the section with the model of the connector the section names.
    """

    # A misspelt key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)

    connector: str
    """Entry point name in the `idp.connectors` group."""


class Connector(Protocol):
    """What the `idp.connectors` entry point names: a class that owns its config model."""

    settings_model: ClassVar[type[ConnectorSettings]]

    @classmethod
    def from_settings(cls, section: Any, base_dir: Path) -> Any:
        """Build from a validated `settings_model` section; relative paths follow `base_dir`
        (the config file's directory)."""


@runtime_checkable
class Probed(Protocol):
    """A connector with an outside system whose reachability /readyz reports."""

    def probe(self) -> None:
        """Return when the outside system answers at all; raise when it does not."""


class ConnectorUnavailable(Exception):
    """The outside system did not answer in time or answered with an error.

    The exception text is for operators and carries no personal data;
    `user_message` is the Vietnamese text for the citizen, who may simply retry.
    """

    def __init__(self, message: str, *, system: str | None = None) -> None:
        super().__init__(message)
        self.system = system

    @property
    def user_message(self) -> str:
        """Vietnamese: this check is unavailable right now, try again in a few minutes."""
        name = _SYSTEM_NAMES.get(self.system or "", "kiểm tra thông tin")
        return f"Hệ thống {name} tạm thời không phản hồi. Vui lòng thử lại sau ít phút."


def _mask(value: str | None) -> str | None:
    # Objects end up in logs and tracebacks: enough to recognise a value, not to learn it.
    if value is None:
        return None
    return value[:3] + "*" * max(len(value) - 5, 0) + value[-2:]


class SmsSender(Protocol):
    """Delivers a text message to a phone (E.164)."""

    def send(self, phone: str, text: str) -> None:
        """Send `text` to `phone`; raise ConnectorUnavailable when it cannot."""


@dataclass(frozen=True, slots=True, repr=False)
class PersonQuery:
    """Who the citizen says they are: the data a registry compares with its record."""

    cccd: str
    full_name: str
    birthdate: date

    def __repr__(self) -> str:
        return f"PersonQuery(cccd={_mask(self.cccd)!r})"


SubscriptionStatus = Literal["active", "suspended", "not_found"]


@dataclass(frozen=True, slots=True)
class SubscriberCheck:
    """A carrier's answer about one phone number, field by field."""

    found: bool
    carrier: str | None
    status: SubscriptionStatus
    cccd_match: bool
    name_match: bool
    birthdate_match: bool

    @property
    def registered_to_person(self) -> bool:
        """The subscription is active and registered to exactly this person ("chính chủ")."""
        return (
            self.found
            and self.status == "active"
            and self.cccd_match
            and self.name_match
            and self.birthdate_match
        )


class SubscriberRegistry(Protocol):
    """A mobile carrier's register of subscribers."""

    def check_subscriber(self, phone: str, person: PersonQuery) -> SubscriberCheck:
        """Compare `person` with the owner of `phone` (E.164); an unknown phone is not found.

        Raises ConnectorUnavailable when the carrier cannot answer.
        """


@dataclass(frozen=True, slots=True, repr=False)
class InsuredPerson:
    """A record of the social insurance (BHXH) registry, as the registry holds it."""

    bhxh_code: str
    cccd: str
    full_name: str
    birthdate: date
    gender: str
    phone: str | None

    def __repr__(self) -> str:
        return (
            f"InsuredPerson(bhxh_code={_mask(self.bhxh_code)!r}, cccd={_mask(self.cccd)!r}, "
            f"phone={_mask(self.phone)!r})"
        )


class InsuranceRegistry(Protocol):
    """The BHXH registry of insured persons."""

    def find_insured(self, bhxh_code: str) -> InsuredPerson | None:
        """The insured person with this 10-digit code, or None when there is none.

        The caller compares the record with what the citizen typed (names with
        `vnid.person.names_equal`). Raises ValueError for a code that is not 10
        digits and ConnectorUnavailable when the registry cannot answer.
        """


@dataclass(frozen=True, slots=True, repr=False)
class PostVerification:
    """Vietnam Post's answer: did it verify this person, and which contacts it holds."""

    verified: bool
    phone: str | None
    email: str | None

    def __repr__(self) -> str:
        return (
            f"PostVerification(verified={self.verified!r}, phone={_mask(self.phone)!r}, "
            f"email={_mask(self.email)!r})"
        )


class PostRegistry(Protocol):
    """Vietnam Post's registry of people it checked in person."""

    def check_registration(
        self, person: PersonQuery, phone: str | None, email: str | None
    ) -> PostVerification:
        """Whether Vietnam Post verified `person`; when it did, the phone/e-mail it holds.

        `phone` and `email` are what the citizen typed; activation must go to the
        contacts in the answer. Raises ConnectorUnavailable when the registry cannot answer.
        """


class EmailSender(Protocol):
    """Delivers an e-mail."""

    def send(self, to: str, subject: str, body: str) -> None:
        """Send a plain-text message; raise ConnectorUnavailable when it cannot."""
