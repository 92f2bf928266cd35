"""Typed settings loaded from one TOML file.

Every key has its default and its meaning here, next to its definition, except the
sections of connectors ([sms], [carrier]... and any plugin's): each connector owns its
model (connectors/). ``config.example.toml`` repeats them all for operators. A bad
value stops the program with a message naming the key and what it expects. Over 400 lines
on purpose: one reading of the whole configuration, section by section as the file has it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from connectors.base import ConnectorSettings
from connectors.registry import UnknownConnector, connector_settings


class ConfigError(Exception):
    """The configuration file is missing or holds a bad value."""


class Section(BaseModel):
    # A misspelt key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


Seconds = Annotated[int, Field(gt=0)]


class ServerSettings(Section):
    issuer: str = "http://127.0.0.1:5000"
    """Public base URL; the `iss` of every token. Must be https outside loopback."""
    host: str = "127.0.0.1"
    port: int = Field(5000, ge=1, le=65535)
    workers: int = Field(2, ge=1, le=64)
    """gunicorn worker processes; rule of thumb: one per core."""
    threads: int = Field(4, ge=1, le=64)
    """threads per worker; the database pool keeps two connections per thread."""
    secret_key: str = ""
    """Signs the browser cookie that carries the CSRF token; at least 32 characters.
    The environment variable IDP_SECRET_KEY overrides it."""
    pairwise_salt: str = ""
    """Secret mixed into pairwise subjects; at least 16 characters and never changed
    once portals have stored subjects. The environment variable IDP_PAIRWISE_SALT overrides it."""
    trust_proxy_headers: int = Field(0, ge=0, le=5)
    """Number of reverse proxies whose X-Forwarded-For/Proto headers are trusted (never
    X-Forwarded-Host: every absolute URL comes from `issuer`)."""
    enforce_host: bool = False
    """Refuse (400) a request whose Host is not the issuer's host: on where the front proxy
    passes the Host header through, so a forged one never reaches the views."""

    @field_validator("issuer")
    @classmethod
    def _issuer_is_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
        if parts.scheme not in {"https", "http"} or not parts.hostname:
            raise ValueError("an absolute URL such as https://sso.example.gov.vn")
        if parts.scheme == "http" and not loopback:
            raise ValueError("https (plain http is allowed only on 127.0.0.1 or localhost)")
        if parts.query or parts.fragment or value.endswith("/"):
            raise ValueError("a URL without query, fragment or trailing slash")
        return value


class DatabaseSettings(Section):
    url: str = "sqlite:///var/idp.sqlite3"
    """SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db."""
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _known_dialect(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("a sqlite:/// or postgresql+psycopg:// URL")
        return value


class StateSettings(Section):
    backend: Literal["sql", "redis"] = "sql"
    """Where short-lived state lives: `sql` (the database above) or `redis`."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    """redis://[:password@]host:port/db. With `sentinels`, only its password and db are
    used: the host is whichever server the sentinels name as primary."""
    key_prefix: str = "idp:"
    sentinels: tuple[str, ...] = ()
    """Redis Sentinel: host:port of each sentinel (three or more). Empty: no Sentinel,
    `redis_url` names the server. Set, every node asks them for the current primary and
    follows a failover by itself."""
    sentinel_service: str = "idp"
    """The name the sentinels monitor the primary under (`sentinel monitor <name> ...`)."""

    @field_validator("sentinels")
    @classmethod
    def _host_and_port(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError("host:port of each sentinel, e.g. 10.0.0.5:26379")
        return value


class KeySettings(Section):
    passphrase: str = ""
    """Encrypts private keys at rest; at least 16 characters.
    The environment variable IDP_KEY_PASSPHRASE overrides it."""
    reload_seconds: Seconds = 30
    """How often a worker looks for keys rotated by another node."""
    backend: Literal["software", "pkcs11"] = "software"
    """Where new keys are made: `software` (encrypted in the database) or `pkcs11`
    (inside an HSM, only the key's label in the database). Existing keys keep
    the backend that made them."""
    pkcs11_module: str = ""
    """Path of the HSM's PKCS#11 library; setting it makes HSM keys usable."""
    pkcs11_token: str = ""
    """Label of the token that holds the keys."""
    pkcs11_pin: str = ""
    """The token's user PIN. The environment variable IDP_PKCS11_PIN overrides it."""


class DataSettings(Section):
    """Encryption at rest of personal data (CCCD, names, birth dates, phones, e-mails...)."""

    kek_backend: Literal["config", "pkcs11"] = "config"
    """Where the key-encryption key that wraps the data keys lives: `config` (below) or
    `pkcs11` (an AES key on the HSM token of [keys], which never leaves it)."""
    kek: str = ""
    """Base64 of 32 random bytes (`openssl rand -base64 32`). The environment variable
    IDP_DATA_KEK overrides it. Empty (and no `kek_file`): derived from keys.passphrase,
    with a warning at start-up; production sets its own KEK, or uses the HSM, so that a
    copy of the configuration's signing-key passphrase does not open the data too."""
    kek_file: str = ""
    """A file holding the base64 KEK instead (e.g. a mounted secret)."""
    pkcs11_kek_label: str = "idp-data-kek"
    """Label of the AES key on the token (made on first use when missing)."""

    @field_validator("kek")
    @classmethod
    def _kek_is_32_bytes(cls, value: str) -> str:
        import base64
        import binascii

        try:
            if value and len(base64.b64decode(value, validate=True)) != 32:
                raise ValueError
        except (ValueError, binascii.Error):
            raise ValueError("base64 of 32 bytes (openssl rand -base64 32)") from None
        return value


class TokenSettings(Section):
    access_token_ttl: Seconds = 600
    id_token_ttl: Seconds = 600
    code_ttl: int = Field(60, gt=0, le=60)
    """Authorization codes live at most 60 s."""
    refresh_token_ttl: Seconds = 30 * 24 * 3600
    """Lifetime of an offline_access refresh token family."""


class OAuthSettings(Section):
    """High-assurance relying parties: pushed requests, client keys, DPoP (RFC 9126, 7523, 9449)."""

    require_par: bool = False
    """Every client must push its authorization requests to /par (RFC 9126 §5); when off,
    only clients registered with it (and `fapi2` clients) must."""
    par_ttl: int = Field(60, ge=5, le=60)
    """Seconds a pushed request's `request_uri` may wait for the browser (single use)."""
    client_jwks_timeout: float = Field(3.0, gt=0, le=30)
    """Seconds to wait for a client's `jwks_uri` (its public keys)."""
    client_jwks_cache_seconds: Seconds = 300
    """How long a fetched client key set is used before it is fetched again."""
    client_jwks_refresh_floor: Seconds = 10
    """An unknown `kid` fetches the set again at most this often per client, so forged kids
    cannot make the provider hammer a portal's server."""
    client_assertion_max_lifetime: int = Field(300, ge=30, le=3600)
    """A client assertion (private_key_jwt) whose `exp` lies further ahead is refused: its
    `jti` is remembered until `exp`, which bounds what the replay check stores."""
    dpop_proof_max_age: int = Field(60, ge=10, le=300)
    """A DPoP proof's `iat` may be this many seconds old (or ahead, for clock skew)."""
    dpop_nonce_ttl: int = Field(300, ge=30, le=3600)
    """Provider DPoP nonces (RFC 9449 §8) change every this many seconds; the current and
    the previous one are accepted."""


class SessionSettings(Section):
    lifetime: Seconds = 8 * 3600
    """Absolute lifetime of an SSO session."""
    idle_timeout: Seconds = 3600
    cookie_secure: bool = True
    """Only turn off to test over plain http on a non-loopback name."""
    transaction_ttl: Seconds = 900
    """How long a login may take between the portal's redirect and its end."""


class LoginSettings(Section):
    """Password attempts from browsers the citizen never logged in from (the counts and
    their windows are the limits login.failures.*, idp/limits.py)."""

    captcha_after_failures: int = Field(3, ge=0)
    """From this many failures for a CCCD, unknown browsers type a captcha (shown on the
    page before the next try)."""
    delay_after_failures: int = Field(5, ge=1)
    """From this many failures on, each further try must wait 2^(n-k) seconds."""
    device_cookie_days: int = Field(400, ge=1, le=400)
    """How long a browser stays known after a complete login (browsers keep a cookie at
    most 400 days)."""


class OtpSettings(Section):
    ttl: int = Field(120, ge=30, le=600)
    """A code is valid this long (the portal's guide says 2 minutes). How many codes may be
    sent or tried is in [limits] (otp.*, sms.*)."""


class PasswordSettings(Section):
    memory_kib: int = Field(19456, ge=8192)
    """argon2id memory; the OWASP minimum profile is m=19 MiB, t=2, p=1."""
    time_cost: int = Field(2, ge=1)
    parallelism: int = Field(1, ge=1)
    min_zxcvbn_score: int = Field(3, ge=0, le=4)


class RegistrationSettings(Section):
    ttl: Seconds = 1800
    """How long a registration (or a password reset) may take from the first form to the
    password."""


class LoggingSettings(Section):
    format: Literal["json", "text"] = "json"
    """`json`: one object per line with a request id (for log collectors); `text` for people."""
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    access_log: bool = False
    """One line per answered request (logger `idp.access`): method, path, the query with
    every value but a few harmless ones masked, status, duration, request id, worker pid.
    JSON when `format` is json. Off by default: the load balancer usually logs requests."""


class AuditSettings(Section):
    chains: int = Field(16, ge=1, le=1024)
    """Independent hash chains the audit rows are spread over. Appends to one chain are
    serialised (an advisory lock per chain on PostgreSQL), so one chain caps the whole
    cluster at about one append per commit time (≈ 800 rows/s on the benchmark machine);
    the rate grows with this number. Changing it affects new rows only."""


class NoticeSettings(Section):
    """Messages that tell a citizen about their own account's activity."""

    new_browser_login: Literal["sms", "email", "off"] = "sms"
    """A login from a browser the account never logged in from sends a notice with the
    access-history link and a "Không phải tôi" link: `sms` to the default OTP phone,
    `email` to the verified contact e-mail (the phone when there is none), or `off`.
    SMS by default: every citizen account has a phone, few have a verified e-mail."""


class RetentionSettings(Section):
    """How long the audit log keeps rows (`idp data purge` deletes older ones).

    Decree 13/2023 wants personal data kept no longer than its purpose needs; Decree
    53/2022 (Art. 26) wants system logs kept at least 12 months, and the helpdesk must be
    able to answer "was this login mine?" and auditors to follow staff actions."""

    access_history_days: int = Field(400, ge=366, le=3660)
    """Logins, failed login steps, logouts and QR-share reads (the citizen's access
    history; most of the log). 400 days: the 12 months Decree 53 asks for, a month for a
    complaint about the oldest of them to reach the helpdesk, and a few days of margin for
    a purge that did not run."""
    audit_days: int = Field(1830, ge=366, le=7320)
    """Every other row: password, phone and e-mail changes, consents, staff actions,
    registrations, key and client changes. Five years: the period inspections
    (thanh tra) and disputes about an account's ownership reach back, and the rows are few."""

    @model_validator(mode="after")
    def _audit_outlives_access(self) -> RetentionSettings:
        if self.audit_days < self.access_history_days:
            raise ValueError("audit_days must be at least access_history_days")
        return self


class LogoutSettings(Section):
    """Back-channel logout deliveries: kept in the database, retried until the portal has
    them (at least once; portals deduplicate by `jti`), given up after a while."""

    backchannel_timeout: float = Field(3.0, gt=0, le=30)
    """Seconds a portal gets to answer one back-channel logout attempt."""
    backchannel_retry_first: Seconds = 2
    """Seconds before the first retry of a failed delivery; each retry waits twice as long."""
    backchannel_retry_max: Seconds = 300
    """Longest wait between two attempts to one portal."""
    backchannel_give_up_after: Seconds = 24 * 3600
    """A delivery still failing this long after the logout is given up and shown as failed
    (`idp backchannel status`, the staff console) instead of retried."""
    backchannel_keep_failed: Seconds = 7 * 24 * 3600
    """How long a given-up delivery stays listed before it is deleted."""


class UsbTokenSettings(Section):
    """Certificates accepted from USB signing tokens (DESIGN §3, §6): level-3 login."""

    trusted_roots: tuple[str, ...] = ()
    """PEM or DER files of the root CAs trusted (the national root CA)."""
    intermediates: tuple[str, ...] = ()
    """PEM or DER files of the licensed CAs' certificates under those roots."""
    crl_sources: tuple[str, ...] = ()
    """CRL files or http(s) URLs: each licensed CA's CRL, and the root's CRL when the
    licensed CAs' certificates name one. A certificate without a current CRL is refused."""
    crl_timeout: float = Field(5.0, gt=0, le=60)
    """Seconds to wait for a CRL download."""
    crl_max_age: Seconds = 3600
    """A CRL is fetched again after this long even before its nextUpdate."""
    agent_url: str = "http://127.0.0.1:14565"
    """Where the login page finds the local signing agent (idp-signing-agent) on the
    user's own machine; it must be a loopback http URL."""

    @field_validator("agent_url")
    @classmethod
    def _agent_on_loopback(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        # The page calls it from the user's browser: only the user's own machine will do.
        if (parts.scheme != "http" or parts.hostname not in {"127.0.0.1", "localhost"}
                or not parts.port or parts.path not in ("", "/") or parts.query):
            raise ValueError("http://127.0.0.1:PORT (the agent listens on loopback only)")
        return value.rstrip("/")


class SharingSettings(Section):
    """Identity data a citizen shares by QR code with someone who is not a portal."""

    min_validity: Seconds = 300
    """Shortest validity a citizen may choose for a share (5 minutes)."""
    max_validity: int = Field(86400, gt=0, le=86400)
    """Longest validity (a day, at most). Credentials are signed when read and expire with
    their share, so retired signing keys stay published this long too."""
    max_live_shares: int = Field(20, ge=1, le=1000)
    """Shares one account may have live at once; more are refused until some are revoked
    or expire (a stolen session cannot fill the status lists)."""
    status_list_size: int = Field(131072, ge=1024, le=1 << 24)
    """Entries in one revocation status list (IETF Token Status List, 1 bit each). A
    share's entry is drawn at random, so a list is only filled to half before the next one
    is used; verifiers download a whole list, which is what hides which share they check."""
    status_list_ttl: int = Field(60, ge=0, le=3600)
    """Seconds a verifier may cache a status list: the longest a revocation can go unseen."""


CONNECTOR_DEFAULTS: Mapping[str, str] = MappingProxyType({
    "sms": "sms.outbox",
    "email": "email.outbox",
    "carrier": "carrier.http",
    "bhxh": "bhxh.http",
    "post": "post.http",
    "mssp": "mssp.http",
})
"""The outside systems the provider itself calls, each with the connector used when its
section names none. Any other section with a `connector` key belongs to a plugin as well.
Every such section is validated by its connector's own model (connectors/)."""


class Settings(Section):
    # Extra top-level keys are the connector sections, validated below by their own models.
    model_config = ConfigDict(extra="allow", frozen=True)

    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    state: StateSettings = StateSettings()
    keys: KeySettings = KeySettings()
    data: DataSettings = DataSettings()
    tokens: TokenSettings = TokenSettings()
    oauth: OAuthSettings = OAuthSettings()
    session: SessionSettings = SessionSettings()
    login: LoginSettings = LoginSettings()
    otp: OtpSettings = OtpSettings()
    passwords: PasswordSettings = PasswordSettings()
    logout: LogoutSettings = LogoutSettings()
    registration: RegistrationSettings = RegistrationSettings()
    logging: LoggingSettings = LoggingSettings()
    audit: AuditSettings = AuditSettings()
    usb_token: UsbTokenSettings = UsbTokenSettings()
    sharing: SharingSettings = SharingSettings()
    notices: NoticeSettings = NoticeSettings()
    retention: RetentionSettings = RetentionSettings()
    limits: dict[str, str] = {}
    """Named limits whose rate differs from the default of idp/limits.py, e.g.
    "sms.login.phone" = "6 per hour"."""
    base_dir: Path = Path(".")
    """Directory relative paths are resolved against (the config file's directory)."""

    @field_validator("limits")
    @classmethod
    def _known_limits(cls, value: dict[str, str]) -> dict[str, str]:
        from idp.limits import UnknownLimit, check_overrides

        try:
            check_overrides(value)
        except UnknownLimit as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _connector_sections(
        cls, data: Any, handler: ModelWrapValidatorHandler[Settings]
    ) -> Settings:
        if not isinstance(data, dict):
            return handler(data)
        own = {key: value for key, value in data.items() if key in cls.model_fields}
        sections: dict[str, ConnectorSettings] = {}
        errors: list[InitErrorDetails] = []
        for name in dict.fromkeys([*CONNECTOR_DEFAULTS, *data]):
            if name in own:
                continue
            values = data.get(name, {})
            if isinstance(values, ConnectorSettings):
                sections[name] = values
            elif name in CONNECTOR_DEFAULTS or isinstance(values, dict) and "connector" in values:
                _validate_section(name, values, sections, errors)
            else:
                errors.append({"type": "extra_forbidden", "loc": (name,), "input": values})
        try:
            settings = handler({**own, **sections})
        except ValidationError as exc:
            errors[:0] = _details(exc)
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return settings

    @property
    def connectors(self) -> dict[str, ConnectorSettings]:
        """Every connector section by name; `settings.sms` reads one of them too."""
        return dict(self.__pydantic_extra__ or {})

    def path(self, value: str) -> Path:
        """Resolve a configured path relative to the config file."""
        path = Path(value)
        return path if path.is_absolute() else self.base_dir / path

    @property
    def database_url(self) -> str:
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.path(url[len(prefix):]))
        return url


def _validate_section(name: str, values: Any, sections: dict[str, ConnectorSettings],
                      errors: list[InitErrorDetails]) -> None:
    if isinstance(values, dict) and name in CONNECTOR_DEFAULTS:
        values = {"connector": CONNECTOR_DEFAULTS[name], **values}
    try:
        sections[name] = connector_settings(values)
    except ValidationError as exc:
        errors.extend(_details(exc, (name,)))
    except UnknownConnector as exc:
        errors.append({"type": "value_error", "loc": (name, "connector"),
                       "input": values["connector"], "ctx": {"error": exc}})


def _details(error: ValidationError, prefix: tuple[str, ...] = ()) -> list[InitErrorDetails]:
    # The errors of one model, re-raised among those of another (under `prefix`).
    details: list[InitErrorDetails] = []
    for item in error.errors():
        detail: InitErrorDetails = {"type": item["type"], "loc": (*prefix, *item["loc"]),
                                    "input": item["input"]}
        if "ctx" in item:
            detail["ctx"] = item["ctx"]
        details.append(detail)
    return details


MOVED_TO_LIMITS = {
    "login.lockout_after_failures": "login.failures.cccd",
    "login.lockout_seconds": "login.failures.cccd",
    "login.failure_window_seconds": "login.failures.cccd",
    "login.ip_attempts_per_hour": "login.attempts.address",
    "otp.max_attempts": "otp.wrong_codes",
    "otp.resend_cooldown": "sms.resend_wait",
    "otp.max_sends_per_transaction": "sms.per_login",
    "otp.per_phone_per_hour": "sms.login.phone",
    "otp.per_phone_per_day": "sms.login.phone_daily",
    "otp.per_ip_per_hour": "sms.login.address",
    "registration.attempts_per_ip_per_hour": "register.checks.address",
    "registration.attempts_per_cccd_per_hour": "register.checks.cccd",
    "sharing.verifier_requests_per_hour": "sharing.verifier.address",
}
"""Keys of earlier versions that are now named limits: the error says where they went."""


def _format_error(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden" and key in MOVED_TO_LIMITS:
            message = f'now a named limit: [limits] "{MOVED_TO_LIMITS[key]}" = "N per ..."'
        elif item["type"] == "extra_forbidden":
            message = "unknown key (misspelt?)"
        lines.append(f"  {key}: {message} (got {item.get('input')!r})")
    return "invalid configuration:\n" + "\n".join(lines)


def load_settings(path: str | os.PathLike | None = None, **overrides) -> Settings:
    """Load settings from `path`, `$IDP_CONFIG`, or the defaults.

    Secrets may come from the environment (IDP_SECRET_KEY, IDP_PAIRWISE_SALT,
    IDP_KEY_PASSPHRASE, IDP_DATA_KEK, IDP_PKCS11_PIN) so they stay out of the file. Raises
    ConfigError with one line per bad key.
    """
    path = path or os.environ.get("IDP_CONFIG")
    data: dict = {}
    base_dir = Path.cwd()
    if path:
        file = Path(path)
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file not found: {file}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file} is not valid TOML: {exc}") from None
        base_dir = file.resolve().parent
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    if secret := os.environ.get("IDP_SECRET_KEY"):
        data.setdefault("server", {})["secret_key"] = secret
    if salt := os.environ.get("IDP_PAIRWISE_SALT"):
        data.setdefault("server", {})["pairwise_salt"] = salt
    if passphrase := os.environ.get("IDP_KEY_PASSPHRASE"):
        data.setdefault("keys", {})["passphrase"] = passphrase
    if kek := os.environ.get("IDP_DATA_KEK"):
        data.setdefault("data", {})["kek"] = kek
    if pin := os.environ.get("IDP_PKCS11_PIN"):
        data.setdefault("keys", {})["pkcs11_pin"] = pin
    data.setdefault("base_dir", base_dir)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc)) from None
    _check_secrets(settings)
    return settings


def _check_secrets(settings: Settings) -> None:
    problems = []
    if len(settings.server.secret_key) < 32:
        problems.append(
            "  server.secret_key: at least 32 characters (or set IDP_SECRET_KEY)"
        )
    if len(settings.server.pairwise_salt) < 16:
        problems.append(
            "  server.pairwise_salt: at least 16 characters (or set IDP_PAIRWISE_SALT)"
        )
    if len(settings.keys.passphrase) < 16:
        problems.append(
            "  keys.passphrase: at least 16 characters (or set IDP_KEY_PASSPHRASE)"
        )
    problems.extend(_pkcs11_problems(settings.keys))
    if settings.data.kek_backend == "pkcs11" and not settings.keys.pkcs11_module:
        problems.append('  data.kek_backend: "pkcs11" needs the token of [keys] pkcs11_module')
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(problems))


def _pkcs11_problems(keys: KeySettings) -> list[str]:
    # Checked here, not by pydantic, whose error would echo the section with its PIN.
    if keys.backend == "pkcs11" and not keys.pkcs11_module:
        return ['  keys.pkcs11_module: the PKCS#11 library path, needed by backend = "pkcs11"']
    if not keys.pkcs11_module:
        return []
    problems = []
    if not keys.pkcs11_token:
        problems.append("  keys.pkcs11_token: the label of the token holding the signing keys")
    if not keys.pkcs11_pin:
        problems.append("  keys.pkcs11_pin: the token's user PIN (or set IDP_PKCS11_PIN)")
    return problems
