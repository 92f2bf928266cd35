"""Durable data: accounts, their OTP phones and certificates, clients, consents, refresh tokens,
back-channel logout deliveries, keys, audit.

Over 400 lines on purpose: every table of the provider in one module, so the schema reads
in one place as migrations/ changes it (the signing keys' table is keys/'s own)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from idp.store.encrypted import BlindIndex, EncryptedDate, EncryptedText
from keys.models import (
    KeyTables,
    SigningKey,  # noqa: F401 - every table of the provider's, importable here
    utcnow,
)

# Ids of the tables that grow with traffic (a row per refresh, per audited event): 64-bit
# on PostgreSQL, where a 32-bit sequence runs out after 2.1 billion rows (days at the
# design peak). SQLite's INTEGER PRIMARY KEY is 64-bit already, and only that spelling
# autoincrements.
BigId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    # One metadata with the signing keys' table, which keys/ owns (keys.models).
    metadata = KeyTables.metadata
    type_annotation_map = {datetime: DateTime(timezone=True)}


class Account(Base):
    """A citizen, an enterprise or a state agency that logs in.

    Citizens are identified by their CCCD; organisations, which have none, by the tax
    code (enterprises) or the budget-relationship code (agencies) their certificate carries.
    """

    __tablename__ = "accounts"
    __table_args__ = (
        # An MST names one enterprise; an agency's certificate may carry its MST as well.
        Index("uq_accounts_type_tax_code", "account_type", "tax_code", unique=True),
        Index("uq_accounts_budget_code", "budget_code", unique=True),
        Index("uq_accounts_cccd_index", "cccd_index", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(43), unique=True)
    """Random, stable `sub`; never derived from the CCCD."""
    cccd: Mapped[str | None] = mapped_column(EncryptedText("accounts.cccd"))
    """Citizens only. Encrypted, like every personal field (idp.store.encrypted): look an
    account up with `Account.cccd_is`."""
    cccd_index: Mapped[str | None] = mapped_column(BlindIndex("cccd"))
    """Blind index of `cccd`, kept in step by `_index_cccd`."""
    full_name: Mapped[str] = mapped_column(EncryptedText("accounts.full_name"))
    """A citizen's name, or the organisation's name as its certificate's CN gives it."""
    birthdate: Mapped[date | None] = mapped_column(EncryptedDate("accounts.birthdate"))
    """Citizens only."""
    birthdate_verified: Mapped[bool] = mapped_column(Boolean, default=True,
                                                     server_default=true())
    """Whether a registry, the counter or a certificate vouched for the birth date. A date
    only typed by the registrant (a certificate without one) is kept for the citizen's own
    forms but never released to portals as if it were checked."""
    gender: Mapped[str | None] = mapped_column(String(8))
    """Citizens only."""
    email: Mapped[str | None] = mapped_column(EncryptedText("accounts.email"))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    """None for an account that logs in with its certificate only."""
    account_type: Mapped[str] = mapped_column(String(16), default="citizen")
    """citizen, enterprise or agency."""
    tax_code: Mapped[str | None] = mapped_column(String(14))
    """Enterprises and agencies: the MST from their certificate."""
    budget_code: Mapped[str | None] = mapped_column(String(7))
    """Agencies: the budget-relationship code (mã ĐVQHNS) from their certificate."""
    organization: Mapped[str | None] = mapped_column(String(200))
    """Enterprises and agencies: the certificate's organisation (O), when it names one."""
    ial: Mapped[int] = mapped_column(Integer, default=2)
    verified_by: Mapped[str] = mapped_column(String(32))
    """Which check proved the identity: operator, counter, carrier, bhxh, post, ..."""
    bhxh_code: Mapped[str | None] = mapped_column(EncryptedText("accounts.bhxh_code"))
    """Social insurance code, when the BHXH registry verified the account."""
    totp_secret: Mapped[str | None] = mapped_column(String(200))
    """Authenticator-app secret, sealed (see idp.security.sealed); None when not enrolled."""
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    phones: Mapped[list[OtpPhone]] = relationship(
        back_populates="account", cascade="all, delete-orphan", order_by="OtpPhone.id"
    )
    certificates: Mapped[list[AccountCertificate]] = relationship(
        back_populates="account", cascade="all, delete-orphan",
        order_by="AccountCertificate.id",
    )
    evidence: Mapped[list[IdentityEvidence]] = relationship(
        cascade="all, delete-orphan", order_by="IdentityEvidence.id",
    )

    @validates("cccd")
    def _index_cccd(self, _key: str, value: str | None) -> str | None:
        self.cccd_index = value  # the column's type turns it into the HMAC when stored
        return value

    @staticmethod
    def cccd_is(cccd: str):
        """The condition "this account's CCCD is `cccd`", answered by the blind index."""
        return Account.cccd_index == cccd

    @property
    def default_phone(self) -> OtpPhone | None:
        for phone in self.phones:
            if phone.is_default:
                return phone
        return self.phones[0] if self.phones else None


class OtpPhone(Base):
    """A phone bound to an account that may receive its OTP."""

    __tablename__ = "otp_phones"
    __table_args__ = (Index("uq_otp_phones_account_phone", "account_id", "phone_index",
                            unique=True),
                      Index("ix_otp_phones_phone_index", "phone_index"))

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(EncryptedText("otp_phones.phone"))
    """E.164, e.g. +84912345678. A phone may serve several accounts."""
    phone_index: Mapped[str | None] = mapped_column(BlindIndex("phone"))
    """Blind index of `phone`: the accounts a phone serves, one index probe away. (None
    only on a row written before encryption, until `idp data encrypt` has run.)"""
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[Account] = relationship(back_populates="phones")

    @validates("phone")
    def _index_phone(self, _key: str, value: str) -> str:
        self.phone_index = value
        return value

    @staticmethod
    def phone_is(phone: str):
        """The condition "this OTP phone is `phone`" (E.164), answered by the blind index."""
        return OtpPhone.phone_index == phone


class Client(Base):
    """A relying-party portal."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_digest: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of a high-entropy random secret: microseconds to check, useless if leaked.
    None for a client that authenticates with its private key (private_key_jwt)."""
    redirect_uris: Mapped[list] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(500))
    allowed_scopes: Mapped[list] = mapped_column(JSON)
    token_endpoint_auth_method: Mapped[str] = mapped_column(
        String(32), default="client_secret_basic"
    )
    subject_type: Mapped[str] = mapped_column(String(16), default="public")
    sector_identifier: Mapped[str | None] = mapped_column(String(255))
    """Host that pairwise subjects are computed for (the redirect URIs' host)."""
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(8), default="RS256")
    session_refresh_tokens: Mapped[bool] = mapped_column(Boolean, default=False)
    """Policy: issue refresh tokens bound to the SSO session without offline_access."""
    profile: Mapped[str] = mapped_column(String(16), default="standard",
                                         server_default="standard")
    """`standard`, or `fapi2`: the FAPI 2.0 Security Profile (see idp.oidc.fapi2)."""
    jwks: Mapped[dict | None] = mapped_column(JSON)
    """The client's public keys by value (private_key_jwt, signed request objects)."""
    jwks_uri: Mapped[str | None] = mapped_column(String(500))
    """Where the client publishes its public keys, when not registered by value."""
    require_par: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    """Authorization requests must be pushed to /par first (RFC 9126 §5)."""
    require_dpop: Mapped[bool] = mapped_column(Boolean, default=False,
                                               server_default=text("false"))
    """Tokens must be DPoP-bound (RFC 9449 §5.2 `dpop_bound_access_tokens`)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_fapi2(self) -> bool:
        return self.profile == "fapi2"

    @property
    def pushed_requests_only(self) -> bool:
        return self.require_par or self.is_fapi2

    @property
    def dpop_required(self) -> bool:
        return self.require_dpop or self.is_fapi2

    def check_secret(self, secret: str) -> bool:
        if self.secret_digest is None:
            return False
        digest = hashlib.sha256(secret.encode()).hexdigest()
        return hmac.compare_digest(digest, self.secret_digest)

    # The methods below are what Authlib's grants and endpoints call on a client.

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        # Every request names its redirect URI; it is matched exactly.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(self.allowed_scopes)
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.check_secret(client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # The token and PAR endpoints take the registered method only; introspection and
        # revocation take either secret method from a client that has a secret.
        if endpoint in ("token", "par") or self.secret_digest is None:
            return method == self.token_endpoint_auth_method
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")

    @property
    def client_metadata(self) -> dict:
        return {"post_logout_redirect_uris": list(self.post_logout_redirect_uris or [])}


class Consent(Base):
    """The scopes an account allowed a portal to receive."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("account_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.client_id", ondelete="CASCADE")
    )
    scopes: Mapped[list] = mapped_column(JSON)
    claims: Mapped[list | None] = mapped_column(JSON)
    """Claims allowed one by one (the `claims` parameter), beyond those of the scopes."""
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefreshToken(Base):
    """One refresh token of a family; rotated on use, stored as a digest."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family", "family_id"),
                      Index("ix_refresh_tokens_expires", "expires_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.client_id", ondelete="CASCADE")
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(500))
    sid: Mapped[str | None] = mapped_column(String(43))
    """Set when the token lives only as long as the SSO session (no offline_access)."""
    auth_time: Mapped[int] = mapped_column(Integer)
    acr: Mapped[str] = mapped_column(String(40))
    amr: Mapped[list] = mapped_column(JSON)
    issued_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    rotated_at: Mapped[float | None] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float)
    dpop_jkt: Mapped[str | None] = mapped_column(String(43))
    """RFC 9449 §5: the thumbprint of the DPoP key the token is bound to; only a proof made
    with that key refreshes it."""
    claims: Mapped[dict | None] = mapped_column(JSON)
    """What the `claims` parameter released beyond the scopes (idp.oidc.claims_request)."""
    login_session: Mapped[str | None] = mapped_column(String(24))
    """The handle (idp.sessions.session_handle) of the SSO session whose login issued the
    family, carried across rotations, also by offline tokens that outlive the session:
    "Không phải tôi" on that login revokes them (idp.account.not_me)."""

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope


class BackchannelDelivery(Base):
    """A back-channel logout token owed to a portal, until the portal answers 200 (then the
    row goes) or until it is given up (then it stays, as failed, for the operator)."""

    __tablename__ = "backchannel_deliveries"
    __table_args__ = (Index("ix_backchannel_due", "state", "next_attempt_at"),
                      Index("ix_backchannel_client", "client_id", "state"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.client_id", ondelete="CASCADE")
    )
    account_id: Mapped[int | None] = mapped_column(Integer)
    jti: Mapped[str] = mapped_column(String(32))
    """The same in every attempt's token, so the portal can deduplicate."""
    subject: Mapped[str] = mapped_column(String(100))
    """The `sub` this portal knows (pairwise where the portal is)."""
    sid: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(8), default="pending")
    """pending (to be tried at next_attempt_at) or failed (given up)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    """Also the lease of an attempt in progress: the node trying it pushes this forward."""
    give_up_at: Mapped[float] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(String(200))


class AuditEvent(Base):
    """Append-only record of a security event."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_account", "account_id", "id"),
                      Index("ix_audit_events_chain", "chain", "id"),
                      # Staff actions are a sliver of a log of every login: the auditor's
                      # "by staff member" view must not scan the rest.
                      Index("ix_audit_events_staff", "actor", "id",
                            postgresql_where=text("actor IS NOT NULL"),
                            sqlite_where=text("actor IS NOT NULL")))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chain: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    """Which of the independent hash chains this row extends (see AuditSettings.chains)."""
    at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int | None] = mapped_column(Integer)
    client_id: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(64))
    """Who acted: None for the citizen themself, `staff:<username>` for staff."""
    actor_role: Mapped[str | None] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    row_hash: Mapped[str] = mapped_column(String(64), default="")
    """SHA-256 over prev_hash and this row's content: an edited or deleted row breaks the chain."""


class AuditCheckpoint(Base):
    """A seal over one batch of `idp data purge` (idp.audit_retention): the rows whose
    predecessor in their chain was deleted, with the hash they link to (AuditLink), so the
    chains still verify. Sealed with a key derived from the server's secret key and
    chained to the previous checkpoint: a forged, edited or deleted checkpoint shows."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    through_id: Mapped[int] = mapped_column(BigId)
    """The last audit row id this batch looked at."""
    rows_purged: Mapped[int] = mapped_column(Integer)
    links_digest: Mapped[str] = mapped_column(String(64))
    """SHA-256 over this checkpoint's links, sorted by row id."""
    prev_seal: Mapped[str] = mapped_column(String(64))
    seal: Mapped[str] = mapped_column(String(64))


class AuditLink(Base):
    """An audit row whose predecessor in its chain was purged: the hash it links to, and
    the row that now comes before it in its chain, are vouched for by its checkpoint (the
    latest checkpoint's link of a row counts)."""

    __tablename__ = "audit_links"

    checkpoint_id: Mapped[int] = mapped_column(Integer, primary_key=True,
                                               autoincrement=False)
    row_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    prev_hash: Mapped[str] = mapped_column(String(64))
    prev_kept_id: Mapped[int] = mapped_column(BigId)
    """The row before it in its chain after the purge (0: none), so deleting that row,
    which no hash covers any more, is still found."""


class Complaint(Base):
    """A complaint the helpdesk handles: "someone registered with my CCCD" (kind
    `registration`, filed from registration) or "this login wasn't me" (kind `not_me`,
    filed from the access history or the login-notice SMS, with the login's details)."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_status", "status", "id"),
                      UniqueConstraint("event_id", name="uq_complaints_event_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    cccd: Mapped[str] = mapped_column(EncryptedText("complaints.cccd"))
    full_name: Mapped[str] = mapped_column(EncryptedText("complaints.full_name"))
    phone: Mapped[str] = mapped_column(EncryptedText("complaints.phone"))
    """The phone the complainant proved control of with an OTP."""
    email: Mapped[str | None] = mapped_column(EncryptedText("complaints.email"))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_by: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(Text)
    handled_at: Mapped[datetime | None] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16), default="registration",
                                      server_default="registration")
    account_id: Mapped[int | None] = mapped_column(Integer)
    """`not_me`: the account whose login was reported (its owner filed it)."""
    event_id: Mapped[int | None] = mapped_column(BigId)
    """`not_me`: the audit row of the reported login; one complaint per login."""
    event: Mapped[dict | None] = mapped_column(JSON)
    """`not_me`: what the helpdesk needs of that login (time, IP, device, portal, method),
    copied so the complaint outlives the audit row's retention."""


class StaffMember(Base):
    """A helpdesk / one-stop-desk staff account, separate from citizen accounts."""

    __tablename__ = "staff_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str] = mapped_column(String(200))
    """Sealed TOTP secret; staff always log in with password + TOTP."""
    roles: Mapped[list] = mapped_column(JSON)
    """Any of helpdesk, registrar, supervisor, auditor, admin."""
    status: Mapped[str] = mapped_column(String(16), default="active")
    office: Mapped[str | None] = mapped_column(String(200))
    """The one-stop desk the member works at; named in counter-registration evidence."""
    must_replace_credentials: Mapped[bool] = mapped_column(Boolean, default=True,
                                                           server_default=text("true"))
    """The password and TOTP secret were set by someone else (an admin creating the member
    or resetting the TOTP): the member replaces both before doing anything else."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()


OPEN_RESET = "status IN ('awaiting_otp', 'awaiting_approval')"


class PhoneResetRequest(Base):
    """A staff reset of a citizen's OTP phone, from evidence to the change (dual control)."""

    __tablename__ = "phone_reset_requests"
    __table_args__ = (
        Index("ix_phone_reset_account", "account_id", "status"),
        # At most one open reset per account: of two concurrent resets only one is stored.
        Index("uq_phone_reset_open", "account_id", unique=True,
              sqlite_where=text(OPEN_RESET), postgresql_where=text(OPEN_RESET)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    new_phone: Mapped[str] = mapped_column(EncryptedText("phone_reset_requests.new_phone"))
    reason: Mapped[str] = mapped_column(Text)
    evidence_type: Mapped[str] = mapped_column(String(32))
    evidence_number: Mapped[str] = mapped_column(
        EncryptedText("phone_reset_requests.evidence_number"))
    requested_by: Mapped[int] = mapped_column(ForeignKey("staff_members.id"))
    carrier_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20), default="awaiting_otp")
    """awaiting_otp, awaiting_approval, done, rejected, cancelled."""
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()


class DataKey(Base):
    """A key that encrypts personal data (`data`) or computes its blind indexes (`index`),
    wrapped by the key-encryption key (idp.store.data_keys)."""

    __tablename__ = "data_keys"
    __table_args__ = (
        # One index key per database: two nodes starting on a new database at once must not
        # each make their own (their blind indexes would differ).
        Index("uq_data_keys_index", "purpose", unique=True,
              sqlite_where=text("purpose = 'index'"), postgresql_where=text("purpose = 'index'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    """The key id written in each envelope it made."""
    purpose: Mapped[str] = mapped_column(String(8))
    wrapped: Mapped[str] = mapped_column(String(200))
    """Base64 of the key wrapped by the KEK (RFC 3394 key wrap)."""
    kek: Mapped[str] = mapped_column(String(100))
    """Which KEK wrapped it: `config:<fingerprint>` or `pkcs11:<label>`."""
    state: Mapped[str] = mapped_column(String(8))
    """active (the newest active data key encrypts) or retired (still decrypts)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StateEntry(Base):
    """Short-lived state for the embedded (SQL) state store."""

    __tablename__ = "state_entries"
    __table_args__ = (
        Index("ix_state_entries_expires", "expires_at"),
        Index("ix_state_entries_set", "set_key"),
    )

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    set_key: Mapped[str | None] = mapped_column(String(200))
    """For set members: the set they belong to (the key is set_key + member)."""
    value: Mapped[str | None] = mapped_column(Text)
    counter: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[float] = mapped_column(Float)


class AccountCertificate(Base):
    """A signing certificate bound to an account: a level-3 login method.

    `kind` is "usb" (a USB signing token; "sim" later). A renewed certificate of the same
    identity is a row of its own. A certificate the holder removed keeps its row, with
    `removed_at`, so that it cannot log in to the account again until added back.
    """

    __tablename__ = "account_certificates"
    __table_args__ = (Index("ix_account_certificates_account", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8), default="usb")
    sha256_fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    serial_hex: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(200))
    common_name: Mapped[str | None] = mapped_column(
        EncryptedText("account_certificates.common_name"))
    cccd: Mapped[str | None] = mapped_column(EncryptedText("account_certificates.cccd"))
    tax_code: Mapped[str | None] = mapped_column(String(14))
    budget_code: Mapped[str | None] = mapped_column(String(7))
    not_after: Mapped[datetime] = mapped_column()
    not_before: Mapped[datetime | None] = mapped_column()
    """Start of validity (None for certificates bound before it was recorded)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    removed_at: Mapped[datetime | None] = mapped_column()

    account: Mapped[Account] = relationship(back_populates="certificates")


class IdentityShare(Base):
    """Identity items a citizen chose to give by QR code to whoever scans it (idp/sharing).

    Holds which items, not their values: the credential is signed from the account when
    the QR code is read. The code in the QR is stored as a digest (for lookup) and sealed
    (so the citizen can show the QR again); no portal `sub` is ever linked to a share.
    """

    __tablename__ = "identity_shares"
    __table_args__ = (
        Index("ix_identity_shares_account", "account_id", "expires_at"),
        Index("ix_identity_shares_expires", "expires_at"),
        # One entry of a status list belongs to one live share at a time.
        UniqueConstraint("status_list", "status_index"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the random code in the share's URL."""
    code_sealed: Mapped[str] = mapped_column(String(200))
    items: Mapped[list] = mapped_column(JSON)
    """Keys of idp.sharing.items.ITEMS, in the order shown."""
    note: Mapped[str | None] = mapped_column(String(100))
    """The citizen's own reminder of whom it is for; never leaves the provider."""
    one_time: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    """When a one-time share was read (it cannot be read again)."""
    read_count: Mapped[int] = mapped_column(Integer, default=0)
    last_read_at: Mapped[datetime | None] = mapped_column()
    last_read_ip: Mapped[str | None] = mapped_column(String(45))
    status_list: Mapped[int] = mapped_column(Integer)
    status_index: Mapped[int] = mapped_column(Integer)
    """This share's entry in the revocation status list `status_list`."""


class IdentityEvidence(Base):
    """How an account's identity was checked against a registry or in person (DESIGN §3).

    The evidence behind `verified_claims` (idp.oidc.verified_claims): a carrier, BHXH or
    Vietnam Post record check at registration, or a counter registration (the staff
    member, the office, the document inspected). Certificate evidence is the account's
    certificates themselves (AccountCertificate).
    """

    __tablename__ = "identity_evidence"
    __table_args__ = (Index("ix_identity_evidence_account", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(16))
    """carrier, bhxh, post or counter (the `verified_by` values of a check)."""
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    organization: Mapped[str | None] = mapped_column(String(200))
    """Who holds the record (the carrier), or the office of a counter registration."""
    staff: Mapped[str | None] = mapped_column(String(64))
    """Counter registration: the staff member's username."""
    document: Mapped[str | None] = mapped_column(String(32))
    """Counter registration: the kind of document inspected (CCCD card, passport...)."""
