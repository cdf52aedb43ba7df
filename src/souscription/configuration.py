"""Every setting of the platform, read from the environment, validated in one place.

`SETTINGS` is the single list: the README's configuration table, `souscription checkconfig` and the
parser all come from it. `read_environment` never touches Django, so it is tested as plain code.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

EMBEDDED_SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
EMBEDDED_FIELD_KEYS_FILE = "field_keys.json"
DEPARTMENT_DATABASES = ("customer_service", "sales", "legal", "billing")
"""Aliases of the department databases (seed 004); the platform's own is Django's `default`."""


PORTS: dict[str, tuple[str, ...]] = {
    "crm": ("embedded", "hubspot"),
    "erp": ("embedded", "odoo"),
    "signature": ("embedded", "yousign"),
    "payment": ("embedded", "stripe"),
    "ticketing": ("embedded", "zendesk"),
    "open_banking": ("embedded", "gocardless"),
}
"""Each integration port and the adapters configuration may pick for it; `embedded` is every port's default."""

VENDORS: dict[str, tuple[str, str]] = {
    "hubspot": ("HubSpot", "https://api.hubapi.com"),
    "odoo": ("Odoo", ""),
    "yousign": ("Yousign", "https://api.yousign.app/v3"),
    "stripe": ("Stripe", "https://api.stripe.com"),
    "zendesk": ("Zendesk", ""),
    "gocardless": ("GoCardless Bank Account Data", "https://bankaccountdata.gocardless.com/api/v2"),
}
"""Vendor key: (name, default API base URL). Odoo and Zendesk have no default: each customer has its own host."""

_VENDOR_ACCOUNT_HELP = {
    "odoo": "the Odoo database name (sent as `X-Odoo-Database`)",
    "zendesk": "the agent's email address, for `{email}/token` basic authentication",
    "gocardless": "the `secret_id` of the user secret (the token is the `secret_key`)",
}


_NO_WEBHOOKS = frozenset({"odoo", "gocardless"})
"""Vendors that send no webhooks: the platform reads their states back (Odoo's payment state, bank consents)."""


class Profile(StrEnum):
    EMBEDDED = "embedded"
    PRODUCTION = "production"


@dataclass(frozen=True)
class Setting:
    env: str
    default: str | None
    help: str
    required_in_production: bool = False


def _db_setting(alias: str, label: str) -> Setting:
    env = "SOUSCRIPTION_DATABASE_URL" if alias == "default" else f"SOUSCRIPTION_{alias.upper()}_DATABASE_URL"
    return Setting(
        env,
        None,
        f"URL of the {label} database (embedded: SQLite file `<data dir>/{alias}.sqlite3`).",
        required_in_production=True,
    )


SETTINGS: tuple[Setting, ...] = (
    Setting("SOUSCRIPTION_PROFILE", "embedded", "`embedded` (SQLite, embedded connectors) or `production`."),
    Setting(
        "SOUSCRIPTION_SECRET_KEY",
        None,
        "Django secret key (sessions, CSRF). Embedded: generated once into `<data dir>/secret_key`.",
        required_in_production=True,
    ),
    Setting("SOUSCRIPTION_DATA_DIR", "var", "Folder of the embedded SQLite files, the secret key and logs."),
    Setting("SOUSCRIPTION_DEBUG", "false", "Django debug pages. Refused in production."),
    Setting(
        "SOUSCRIPTION_ALLOWED_HOSTS",
        "localhost,127.0.0.1,[::1]",
        "Comma-separated host names the web server answers to.",
        required_in_production=True,
    ),
    Setting("SOUSCRIPTION_CSRF_TRUSTED_ORIGINS", "", "Comma-separated origins (https://…) trusted for forms."),
    _db_setting("default", "platform"),
    _db_setting("customer_service", "customer service"),
    _db_setting("sales", "sales"),
    _db_setting("legal", "legal"),
    _db_setting("billing", "billing"),
    Setting(
        "SOUSCRIPTION_WORKFLOW_DATABASE_URL",
        None,
        "DBOS system database (workflow state). Embedded: `<data dir>/workflows.sqlite3`; "
        "production: defaults to the platform database.",
    ),
    Setting(
        "SOUSCRIPTION_PRODUCT_DIRS",
        "",
        "Extra product definition folders (`:`-separated), loaded after the built-in products: a new product "
        "or version is a folder, no release needed.",
    ),
    Setting(
        "SOUSCRIPTION_EXECUTOR_ID",
        "embedded",
        "Stable id of this worker process: a restarted worker with the same id resumes its workflows.",
    ),
    Setting("SOUSCRIPTION_HOST", "127.0.0.1", "Address `souscription serve` listens on."),
    Setting("SOUSCRIPTION_PORT", "8000", "Port `souscription serve` listens on."),
    Setting("SOUSCRIPTION_WEB_THREADS", "8", "Request threads of `souscription serve`."),
    Setting("SOUSCRIPTION_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR."),
    Setting("SOUSCRIPTION_LOG_FORMAT", "console", "`console` (readable) or `json` (one object per line)."),
    Setting(
        "SOUSCRIPTION_SECURE_COOKIES",
        "false",
        "Send session and CSRF cookies over HTTPS only (always on in production).",
    ),
    Setting(
        "SOUSCRIPTION_FIELD_KEYS",
        None,
        "Master keys of the field encryption (health answers, IBANs): comma-separated `key_id:base64url-32-bytes`, "
        "the first one active (`souscription reencrypt` moves every data key onto it). "
        f"Embedded: generated once into `<data dir>/{EMBEDDED_FIELD_KEYS_FILE}`.",
        required_in_production=True,
    ),
    Setting(
        "SOUSCRIPTION_AUDIT_SIGNING_KEY",
        None,
        "Ed25519 private key signing the audit trail's tree heads: base64 of the 32 raw bytes. "
        "Embedded: generated once into `<data dir>/audit/signing_key`.",
        required_in_production=True,
    ),
    Setting(
        "SOUSCRIPTION_OIDC_ISSUER",
        "",
        "Staff single sign-on: the OpenID provider's issuer URL (its `/.well-known/openid-configuration` is read); "
        "empty: no single sign-on. Production: https only.",
    ),
    Setting("SOUSCRIPTION_OIDC_CLIENT_ID", "", "Client id of the platform at the OpenID provider."),
    Setting(
        "SOUSCRIPTION_OIDC_CLIENT_SECRET",
        "",
        "Client secret of the platform at the OpenID provider (client_secret_basic or client_secret_post).",
    ),
    Setting(
        "SOUSCRIPTION_OIDC_REQUIRE_MFA",
        "true",
        "Refuse a single sign-on whose ID token does not prove a second factor (`amr` with mfa, otp, hwk, swk, "
        "sms or fpt, or an `acr` of SOUSCRIPTION_OIDC_ACR_VALUES).",
    ),
    Setting(
        "SOUSCRIPTION_OIDC_ACR_VALUES",
        "",
        "Comma-separated `acr` values that prove a second factor at the provider (also requested as `acr_values`).",
    ),
)


def _vendor_settings() -> tuple[Setting, ...]:
    settings: list[Setting] = [
        Setting(
            "SOUSCRIPTION_CONNECTORS",
            "",
            "Adapters per port, comma-separated `port=adapter` ("
            + "; ".join(f"{port}: {' or '.join(names)}" for port, names in PORTS.items())
            + "). A port not named keeps its embedded default.",
        )
    ]
    for key, (name, url) in VENDORS.items():
        prefix = f"SOUSCRIPTION_{key.upper()}"
        settings.append(
            Setting(f"{prefix}_URL", url or None, f"{name}: API base URL" + ("" if url else " (required when used)."))
        )
        settings.append(Setting(f"{prefix}_TOKEN", None, f"{name}: API credential, from the vendor's console."))
        if key in _VENDOR_ACCOUNT_HELP:
            settings.append(Setting(f"{prefix}_ACCOUNT", None, f"{name}: {_VENDOR_ACCOUNT_HELP[key]}."))
        settings.append(Setting(f"{prefix}_WEBHOOK_SECRET", None, f"{name}: secret that signs its webhooks."))
        if key == "hubspot":
            settings.extend(_HUBSPOT_SETTINGS)
    return tuple(settings)


_HUBSPOT_SETTINGS = (
    Setting(
        "SOUSCRIPTION_HUBSPOT_PIPELINE",
        "default",
        "HubSpot: id of the pipeline holding the dossiers' deals (`default`: the account's default sales pipeline).",
    ),
    Setting(
        "SOUSCRIPTION_HUBSPOT_STAGES",
        "",
        "HubSpot: stage id of each position of a dossier's deal, comma-separated `position=stage_id` (positions: "
        "lead, qualified, offer_sent, offer_accepted, contract_sent, won, lost). In the `default` pipeline a position "
        "not named keeps HubSpot's default stage; another pipeline must name all seven.",
    ),
)


SETTINGS = (
    *SETTINGS,
    *_vendor_settings(),
    Setting(
        "SOUSCRIPTION_RABBITMQ_PREFIX",
        "souscription.",
        "Prefix of the event bus's exchanges and queues on RabbitMQ (several platforms, or a test, on one broker).",
    ),
    Setting(
        "SOUSCRIPTION_CONNECTOR_PARK_SECONDS",
        "30",
        "First wait of a vendor call parked because the vendor is unavailable (doubles at each try, up to 600 s).",
    ),
    Setting(
        "SOUSCRIPTION_CONNECTOR_BREAKER_SECONDS",
        "30",
        "How long a vendor's circuit breaker stays open (after 5 consecutive transient failures) before a trial.",
    ),
    Setting(
        "SOUSCRIPTION_CONNECTOR_TIMEOUT_SECONDS",
        "10",
        "Timeout of one HTTP exchange with a vendor; a timed-out call is retried with the same idempotency key.",
    ),
    Setting(
        "SOUSCRIPTION_IDEMPOTENCY_IN_FLIGHT_SECONDS",
        "30",
        "A request holding an Idempotency-Key for longer is taken to have died with its process: a retry with the "
        "same key then runs (before, it gets 409 idempotency_key_in_flight).",
    ),
    Setting(
        "SOUSCRIPTION_RABBITMQ_URL",
        "",
        "Event bus: AMQP URL of RabbitMQ (amqp://user:password@host:5672/vhost). Empty: events are delivered "
        "in-process (embedded mode).",
    ),
)
_BY_ENV = {setting.env: setting for setting in SETTINGS}
_EMBEDDED_SECRET_PREFIX = "embedded-"  # noqa: S105 - marks generated keys so production refuses them
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,40}")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigurationError(Exception):
    """The environment cannot run the platform. Lists every wrong setting, each with its variable and fix."""

    code = "configuration_error"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("Configuration refusée :\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class VendorAccess:
    """How to reach one vendor: its API base URL and credentials (empty when not configured)."""

    vendor: str
    url: str
    token: str = field(default="", repr=False)
    account: str = ""
    webhook_secret: str = field(default="", repr=False)
    options: tuple[tuple[str, str], ...] = ()
    """Vendor-specific settings, checked when read (HubSpot: `pipeline`, and `stage.<position>` for each one named)."""


@dataclass(frozen=True)
class Environment:
    profile: Profile
    secret_key: str | None
    data_dir: Path
    debug: bool
    allowed_hosts: tuple[str, ...]
    csrf_trusted_origins: tuple[str, ...]
    database_urls: Mapping[str, str]
    workflow_database_url: str
    executor_id: str
    host: str
    port: int
    web_threads: int
    log_level: str
    log_format: str
    secure_cookies: bool
    product_dirs: tuple[Path, ...] = ()
    # Empty in embedded mode without the variable: the key file in the data folder is used instead.
    field_keys: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    # None in embedded mode without the variable: the key file in the data folder is used instead.
    audit_signing_key: bytes | None = field(default=None, repr=False)
    # Staff single sign-on (OpenID Connect); an empty issuer turns it off.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = field(default="", repr=False)
    oidc_require_mfa: bool = True
    oidc_acr_values: tuple[str, ...] = ()
    # Integration port -> adapter name; every port is present (`embedded` unless configured).
    connectors: Mapping[str, str] = field(default_factory=lambda: dict.fromkeys(PORTS, "embedded"))
    vendors: Mapping[str, VendorAccess] = field(default_factory=dict, repr=False)
    rabbitmq_url: str = field(default="", repr=False)
    rabbitmq_prefix: str = "souscription."
    connector_park_seconds: int = 30
    connector_timeout_seconds: int = 10
    connector_breaker_seconds: int = 30
    idempotency_in_flight_seconds: int = 30

    @property
    def is_production(self) -> bool:
        return self.profile is Profile.PRODUCTION


def read_environment(env: Mapping[str, str], *, base_dir: Path) -> Environment:
    """Read and check every setting; raise `ConfigurationError` listing all the problems at once."""
    problems: list[str] = []

    def raw(name: str) -> str | None:
        value = env.get(name)
        return value if value not in (None, "") else _BY_ENV[name].default

    profile = _parse_profile(raw("SOUSCRIPTION_PROFILE") or "", problems)
    production = profile is Profile.PRODUCTION
    data_dir = Path(raw("SOUSCRIPTION_DATA_DIR") or "var")
    if not data_dir.is_absolute():
        data_dir = base_dir / data_dir

    if production:
        for setting in SETTINGS:
            if setting.required_in_production and not env.get(setting.env):
                problems.append(f"{setting.env} est obligatoire en production : {setting.help}")

    secret_key = raw("SOUSCRIPTION_SECRET_KEY")
    if production and secret_key and (secret_key.startswith(_EMBEDDED_SECRET_PREFIX) or len(secret_key) < 50):
        problems.append(
            "SOUSCRIPTION_SECRET_KEY est une clé par défaut ou trop courte : "
            "fournissez au moins 50 caractères aléatoires "
            "(python -c 'import secrets; print(secrets.token_urlsafe(64))')."
        )

    debug = _parse_bool("SOUSCRIPTION_DEBUG", raw("SOUSCRIPTION_DEBUG"), problems)
    if production and debug:
        problems.append("SOUSCRIPTION_DEBUG doit être false en production : les pages de debug exposent des données.")

    database_urls = {
        alias: env.get(_db_setting(alias, alias).env) or f"sqlite:///{data_dir / f'{alias}.sqlite3'}"
        for alias in ("default", *DEPARTMENT_DATABASES)
    }
    if production:
        for alias, url in database_urls.items():
            if url.startswith("sqlite"):
                problems.append(
                    f"{_db_setting(alias, alias).env} pointe vers SQLite : la production exige PostgreSQL "
                    "(postgresql://utilisateur@hôte:5432/base)."
                )
        if len(set(database_urls.values())) < len(database_urls):
            problems.append(
                "Les bases des départements doivent être distinctes (seed 004) : "
                "donnez une URL différente à chaque SOUSCRIPTION_*_DATABASE_URL."
            )
    workflow_url = env.get("SOUSCRIPTION_WORKFLOW_DATABASE_URL") or (
        database_urls["default"] if production else f"sqlite:///{data_dir / 'workflows.sqlite3'}"
    )

    log_level = (raw("SOUSCRIPTION_LOG_LEVEL") or "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        problems.append(f"SOUSCRIPTION_LOG_LEVEL « {log_level} » inconnu : DEBUG, INFO, WARNING ou ERROR.")
    log_format = (raw("SOUSCRIPTION_LOG_FORMAT") or "console").lower()
    if log_format not in {"console", "json"}:
        problems.append(f"SOUSCRIPTION_LOG_FORMAT « {log_format} » inconnu : console ou json.")

    result = Environment(
        profile=profile,
        secret_key=secret_key,
        data_dir=data_dir,
        debug=debug,
        allowed_hosts=_split(raw("SOUSCRIPTION_ALLOWED_HOSTS")),
        csrf_trusted_origins=_split(raw("SOUSCRIPTION_CSRF_TRUSTED_ORIGINS")),
        database_urls=database_urls,
        workflow_database_url=workflow_url,
        executor_id=raw("SOUSCRIPTION_EXECUTOR_ID") or "embedded",
        host=raw("SOUSCRIPTION_HOST") or "127.0.0.1",
        port=_parse_int("SOUSCRIPTION_PORT", raw("SOUSCRIPTION_PORT"), problems, low=1, high=65535),
        web_threads=_parse_int("SOUSCRIPTION_WEB_THREADS", raw("SOUSCRIPTION_WEB_THREADS"), problems, low=1, high=256),
        log_level=log_level,
        log_format=log_format,
        secure_cookies=production
        or _parse_bool("SOUSCRIPTION_SECURE_COOKIES", raw("SOUSCRIPTION_SECURE_COOKIES"), problems),
        product_dirs=_product_dirs(raw("SOUSCRIPTION_PRODUCT_DIRS") or "", base_dir, problems),
        field_keys=_field_keys(raw("SOUSCRIPTION_FIELD_KEYS") or "", problems),
        audit_signing_key=_audit_signing_key(raw("SOUSCRIPTION_AUDIT_SIGNING_KEY") or "", problems),
        **_oidc(raw, production=production, problems=problems),
        **_connectors(raw, problems=problems),
    )
    if problems:
        raise ConfigurationError(problems)
    return result


def _product_dirs(value: str, base_dir: Path, problems: list[str]) -> tuple[Path, ...]:
    folders = []
    for part in filter(None, value.split(":")):
        folder = Path(part) if Path(part).is_absolute() else base_dir / part
        if not folder.is_dir():
            problems.append(f"SOUSCRIPTION_PRODUCT_DIRS : le dossier {folder} n'existe pas.")
        folders.append(folder)
    return tuple(folders)


def parse_field_keys(value: str) -> tuple[tuple[str, bytes], ...]:
    """`key_id:base64url-32-bytes,...` into (id, key) pairs, the active one first; `ValueError` names the fault."""
    keys: list[tuple[str, bytes]] = []
    for part in filter(None, (piece.strip() for piece in value.split(","))):
        key_id, separator, encoded = part.partition(":")
        if not separator or not _KEY_ID.fullmatch(key_id):
            raise ValueError("chaque clé s'écrit identifiant:clé (identifiant : lettres, chiffres, « . _ - »)")
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"la clé « {key_id} » n'est pas en base64url") from None
        if len(key) != 32:
            raise ValueError(f"la clé « {key_id} » doit faire 32 octets (AES-256), elle en fait {len(key)}")
        if any(known == key_id for known, _ in keys):
            raise ValueError(f"l'identifiant « {key_id} » apparaît deux fois")
        keys.append((key_id, key))
    return tuple(keys)


def _field_keys(value: str, problems: list[str]) -> tuple[tuple[str, bytes], ...]:
    try:
        return parse_field_keys(value)
    except ValueError as error:
        problems.append(
            f"SOUSCRIPTION_FIELD_KEYS : {error}. Générez une clé avec "
            "python -c 'import base64, os; print(\"k1:\" + base64.urlsafe_b64encode(os.urandom(32)).decode())'."
        )
        return ()


def _oidc(raw: Callable[[str], str | None], *, production: bool, problems: list[str]) -> dict[str, Any]:
    issuer = (raw("SOUSCRIPTION_OIDC_ISSUER") or "").strip().rstrip("/")
    client_id = (raw("SOUSCRIPTION_OIDC_CLIENT_ID") or "").strip()
    client_secret = raw("SOUSCRIPTION_OIDC_CLIENT_SECRET") or ""
    if issuer:
        scheme = issuer.partition("://")[0]
        if scheme not in {"https", "http"} or not issuer.partition("://")[2]:
            problems.append(f"SOUSCRIPTION_OIDC_ISSUER « {issuer} » n'est pas une URL : https://sso.assureur.fr/…")
        elif production and scheme != "https":
            problems.append(
                "SOUSCRIPTION_OIDC_ISSUER doit être en https en production : sans TLS, les jetons et le secret "
                "du client circulent en clair (https://sso.assureur.fr/…)."
            )
        if not client_id:
            problems.append(
                "SOUSCRIPTION_OIDC_CLIENT_ID est obligatoire quand SOUSCRIPTION_OIDC_ISSUER est renseigné : "
                "l'identifiant donné par le fournisseur d'identité à la plateforme."
            )
        if production and not client_secret:
            problems.append(
                "SOUSCRIPTION_OIDC_CLIENT_SECRET est obligatoire en production quand SOUSCRIPTION_OIDC_ISSUER est "
                "renseigné : le secret du client donné par le fournisseur d'identité."
            )
    return {
        "oidc_issuer": issuer,
        "oidc_client_id": client_id,
        "oidc_client_secret": client_secret,
        "oidc_require_mfa": _parse_bool(
            "SOUSCRIPTION_OIDC_REQUIRE_MFA", raw("SOUSCRIPTION_OIDC_REQUIRE_MFA"), problems
        ),
        "oidc_acr_values": _split(raw("SOUSCRIPTION_OIDC_ACR_VALUES")),
    }


def _connectors(raw: Callable[[str], str | None], *, problems: list[str]) -> dict[str, Any]:
    connectors = dict.fromkeys(PORTS, "embedded")
    for part in _split(raw("SOUSCRIPTION_CONNECTORS")):
        port, _, adapter = (piece.strip() for piece in part.partition("="))
        if port not in PORTS:
            problems.append(f"SOUSCRIPTION_CONNECTORS : port « {port} » inconnu ({', '.join(PORTS)}).")
        elif adapter not in PORTS[port]:
            problems.append(
                f"SOUSCRIPTION_CONNECTORS : adaptateur « {adapter} » inconnu pour {port} ({' ou '.join(PORTS[port])})."
            )
        else:
            connectors[port] = adapter
    vendors = {}
    for key in VENDORS:
        prefix = f"SOUSCRIPTION_{key.upper()}"
        vendors[key] = VendorAccess(
            vendor=key,
            url=(raw(f"{prefix}_URL") or "").rstrip("/"),
            token=raw(f"{prefix}_TOKEN") or "",
            account=(raw(f"{prefix}_ACCOUNT") or "") if key in _VENDOR_ACCOUNT_HELP else "",
            webhook_secret=raw(f"{prefix}_WEBHOOK_SECRET") or "",
            options=_hubspot_options(raw, problems) if key == "hubspot" else (),
        )
    for port, adapter in connectors.items():
        if adapter == "embedded":
            continue
        access, prefix = vendors[adapter], f"SOUSCRIPTION_{adapter.upper()}"
        needed = [("URL", access.url), ("TOKEN", access.token)]
        if adapter not in _NO_WEBHOOKS:
            needed.append(("WEBHOOK_SECRET", access.webhook_secret))
        for suffix, value in needed:
            if not value:
                problems.append(
                    f"{prefix}_{suffix} est obligatoire quand {port}={adapter} : "
                    f"voir docs/integrations.md ({VENDORS[adapter][0]})."
                )
        if adapter in _VENDOR_ACCOUNT_HELP and not access.account:
            problems.append(
                f"{prefix}_ACCOUNT est obligatoire quand {port}={adapter} : {_VENDOR_ACCOUNT_HELP[adapter]}."
            )
    rabbitmq_url = (raw("SOUSCRIPTION_RABBITMQ_URL") or "").strip()
    if rabbitmq_url and not rabbitmq_url.startswith(("amqp://", "amqps://")):
        problems.append(f"SOUSCRIPTION_RABBITMQ_URL « {rabbitmq_url} » n'est pas une URL AMQP : amqp://hôte:5672/.")
    park = _parse_int(
        "SOUSCRIPTION_CONNECTOR_PARK_SECONDS", raw("SOUSCRIPTION_CONNECTOR_PARK_SECONDS"), problems, low=1, high=600
    )
    timeout = _parse_int(
        "SOUSCRIPTION_CONNECTOR_TIMEOUT_SECONDS",
        raw("SOUSCRIPTION_CONNECTOR_TIMEOUT_SECONDS"),
        problems,
        low=1,
        high=120,
    )
    return {
        "connectors": connectors,
        "vendors": vendors,
        "rabbitmq_url": rabbitmq_url,
        "rabbitmq_prefix": raw("SOUSCRIPTION_RABBITMQ_PREFIX") or "souscription.",
        "connector_park_seconds": park,
        "connector_timeout_seconds": timeout,
        "connector_breaker_seconds": _parse_int(
            "SOUSCRIPTION_CONNECTOR_BREAKER_SECONDS",
            raw("SOUSCRIPTION_CONNECTOR_BREAKER_SECONDS"),
            problems,
            low=1,
            high=3600,
        ),
        "idempotency_in_flight_seconds": _parse_int(
            "SOUSCRIPTION_IDEMPOTENCY_IN_FLIGHT_SECONDS",
            raw("SOUSCRIPTION_IDEMPOTENCY_IN_FLIGHT_SECONDS"),
            problems,
            low=1,
            high=3600,
        ),
    }


def _audit_signing_key(value: str, problems: list[str]) -> bytes | None:
    if not value:
        return None
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        problems.append(
            "SOUSCRIPTION_AUDIT_SIGNING_KEY doit être le base64 des 32 octets d'une clé privée Ed25519 : "
            "python -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'."
        )
        return None
    return key


def embedded_secret_key(data_dir: Path) -> str:
    """Embedded mode only: a random key created once in the data folder, so sessions survive restarts."""
    import secrets

    path = data_dir / EMBEDDED_SECRET_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = _EMBEDDED_SECRET_PREFIX + secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _parse_profile(value: str, problems: list[str]) -> Profile:
    try:
        return Profile(value.lower())
    except ValueError:
        problems.append(f"SOUSCRIPTION_PROFILE « {value} » inconnu : embedded ou production.")
        return Profile.EMBEDDED


def _parse_bool(name: str, value: str | None, problems: list[str]) -> bool:
    lowered = (value or "").lower()
    if lowered in _TRUE:
        return True
    if lowered not in _FALSE:
        problems.append(f"{name} « {value} » n'est pas un booléen : true ou false.")
    return False


def _parse_int(name: str, value: str | None, problems: list[str], *, low: int, high: int) -> int:
    try:
        number = int(value or "")
    except ValueError:
        problems.append(f"{name} « {value} » n'est pas un nombre entier.")
        return low
    if not low <= number <= high:
        problems.append(f"{name} = {number} hors limites : entre {low} et {high}.")
    return number


def _hubspot_options(raw: Callable[[str], str | None], problems: list[str]) -> tuple[tuple[str, str], ...]:
    """The deals' pipeline and the stage id of each position named; the adapter checks them against its positions
    when it is built (`integrations.crm.hubspot_states.configured_pipeline`)."""
    pipeline_id = (raw("SOUSCRIPTION_HUBSPOT_PIPELINE") or "").strip()
    stages: dict[str, str] = {}
    for part in _split(raw("SOUSCRIPTION_HUBSPOT_STAGES")):
        position, equals, stage_id = (piece.strip() for piece in part.partition("="))
        if not equals or not position or not stage_id:
            problems.append(f"SOUSCRIPTION_HUBSPOT_STAGES : « {part} » n'est pas de la forme position=id_de_l_étape.")
            continue
        if position in stages:
            problems.append(f"SOUSCRIPTION_HUBSPOT_STAGES : la position « {position} » est donnée deux fois.")
        stages[position] = stage_id
    return (("pipeline", pipeline_id), *((f"stage.{position}", stage_id) for position, stage_id in stages.items()))


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())
