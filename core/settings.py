"""The one settings object: environment variables with the GOVHUB_ prefix, nothing else reads os.environ.

Everything has a safe embedded default under GOVHUB_HOME (SQLite metadata, a local lake, simulated
sources), so `make run` works on a fresh machine; production overrides with real URLs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import SettingsError

__all__ = ["Settings", "get_settings", "reset_settings", "set_credit_base_url", "set_home", "set_source_urls"]


class _SourceSide(Protocol):
    @property
    def system(self) -> str: ...


class _HasSource(Protocol):
    """What `source_config` needs of a contract: its source system's name."""

    @property
    def source(self) -> _SourceSide: ...


DEV_CREDIT_TOKEN = "govhub-dev-token"  # the simulators' token: fine for trying the hub, refused in production


class Settings(BaseSettings):
    """govhub configuration; each attribute maps to GOVHUB_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="GOVHUB_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    home: Path = Field(default=Path(".govhub"), description="Working folder for the embedded default.")
    keys_dir: Path | None = Field(
        default=None,
        description="The hub's keys and secrets (signing key, delivery secret, monitor secrets): a folder every "
        "host mounts (a Docker/Kubernetes secret); default <home>/keys.",
    )
    delivery_secret: SecretStr | None = Field(
        default=None, description="Delivery pseudonym secret as hex (instead of <keys_dir>/delivery.secret)."
    )
    db_url: str | None = Field(default=None, description="Hub metadata store (SQLAlchemy URL).")
    lake_url: str | None = Field(default=None, description="Lake root: a folder or s3://bucket/prefix.")
    s3_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    s3_allow_http: bool = Field(default=False, description="Plain-HTTP S3 endpoint (MinIO without TLS): only when set.")

    population_url: str | None = Field(default=None, description="Population registry (SQLAlchemy URL).")
    legal_entity_url: str | None = Field(default=None, description="Legal-entity registry (SQLAlchemy URL).")
    credit_base_url: str = "http://127.0.0.1:8701"
    credit_token: str = DEV_CREDIT_TOKEN
    credit_timeout: float = 10.0
    credit_max_retries: int = 5
    nontax_inbox: str | None = Field(
        default=None, description="Settlement-file inbox: a folder, or s3://bucket/prefix on the hub's object store."
    )

    seal_algorithm: Literal["sm2", "ed25519"] = Field(
        default="sm2", description="The hub key's algorithm: seals and exchange-log checkpoints."
    )
    log_checkpoint_every: int = Field(default=1000, ge=1)
    serving_refresh_seconds: int | None = Field(
        default=None,
        ge=0,
        description="How often the web app brings its serving stores up to the lake's versions (0: never); "
        "default 60 in production, off elsewhere.",
    )
    log_maintenance_seconds: float = Field(
        default=60.0,
        ge=0,
        description="The web app signs unsigned checkpoints and refreshes rollups this often (0: off).",
    )
    refusal_window_seconds: float = Field(
        default=60.0, gt=0, description="Refusals without a valid key: one aggregated log event per address and window."
    )
    refusal_limit: int = Field(
        default=30, ge=1, description="Refusals without a valid key per address and window before 429."
    )
    subject_hash_key: str | None = Field(
        default=None, description="Secret of the keyed subject hash (else <keys>/subject-hash.key is made and used)."
    )
    idp_public_key: str | None = Field(
        default=None,
        description="The 政务服务 app's identity provider's Ed25519 public key (PEM) that signs identity assertions.",
    )
    idp_public_key_file: Path | None = Field(
        default=None, description="The same key as a PEM file (default: <keys>/idp-public.pem when present)."
    )
    idp_audience: str = Field(
        default="govhub-access-record", min_length=1, description="The `aud` an identity assertion must carry."
    )
    idp_issuer: str | None = Field(default=None, description="The `iss` an identity assertion must carry (when set).")

    batch_size: int = Field(default=100_000, ge=1_000, le=5_000_000)
    lock_lease_seconds: int = Field(default=900, ge=10)
    gx_max_rows: int = Field(default=100_000, ge=1_000)
    gx_full_suite_min_rows: int = Field(
        default=10_000,
        ge=0,
        description=(
            "Live rows in an increment from which `register` runs the full Great Expectations suite; smaller "
            "increments get the dataset-level expectations in Arrow, and the scheduled check covers each version."
        ),
    )
    lake_compact_threshold: float = Field(
        default=0.10,
        gt=0,
        description="Compact a curated table (MERGE its pending changes into the base) once they exceed this "
        "share of the base's rows; `govhub lake compact` compacts on demand.",
    )

    delivery_targets: dict[str, str] = Field(
        default_factory=dict,
        description="Delivery target connections held in settings (JSON object: key -> SQLAlchemy URL), "
        "referenced by targets registered as setting:<key>; never shown back.",
    )
    cookie_secure: Literal["auto", "always"] = Field(
        default="auto",
        description="Monitor cookies `Secure`: auto = when the request came over https; always = behind a TLS proxy.",
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Rate-limit counters (sign-in throttling, verification clients; a `limits` storage URI): "
        "memory:// per process, redis://[:password@]host:6379/N shared by all workers.",
    )

    issuer_name: str = Field(
        default="益阳市政务数据共享交换平台",
        min_length=1,
        description="The body that issues sealed verification answers, printed on every proof (出具单位).",
    )
    issuer_name_en: str = Field(
        default="Yiyang Government Data Sharing and Exchange Platform",
        min_length=1,
        description="The issuing body's English name, on the English printed proof.",
    )
    public_base_url: str | None = Field(
        default=None,
        description="The hub's address as people outside reach it (https://data.yiyang.gov.cn): printed proofs "
        "and their QR codes point at <this>/check; default: the address the request came to.",
    )
    holiday_calendar_file: Path | None = Field(
        default=None,
        description="The State Council's holiday arrangement for years the installed chinesecalendar does not "
        'cover yet (JSON: {"2027": {"holidays": ["2027-01-01", ...], "workdays": [...], "notice": "..."}}).',
    )
    sharing_answer_working_days: int = Field(
        default=10, ge=1, description="Provider's answer time limit, working days (政务数据共享条例; UNCONFIRMED)."
    )
    sharing_dispute_working_days: int = Field(
        default=10,
        ge=1,
        description="Sharing authority's dispute time limit, working days (政务数据共享条例; UNCONFIRMED).",
    )
    correction_answer_working_days: int = Field(
        default=10,
        ge=1,
        description="Provider's time limit to confirm or reject a reported error (校核纠错), working days "
        "(政务数据共享条例; article and value UNCONFIRMED: the hub's default).",
    )

    lineage_transport: Literal["file", "http", "none"] = Field(
        default="file", description="OpenLineage events: <home>/lineage/events.jsonl; http also posts them; none."
    )
    lineage_url: str | None = Field(default=None, description="OpenLineage HTTP base URL (e.g. Marquez).")
    lineage_endpoint: str = "api/v1/lineage"
    lineage_api_key: str | None = None
    lineage_timeout: float = 5.0

    @model_validator(mode="after")
    def _no_embedded_defaults_in_production(self) -> Settings:
        """Production must name its metadata store, lake and credit token: no silent embedded fallback."""
        if self.environment != "production":
            return self
        for variable, value in (("GOVHUB_DB_URL", self.db_url), ("GOVHUB_LAKE_URL", self.lake_url)):
            if not value:
                raise SettingsError(variable, "an explicit value when GOVHUB_ENVIRONMENT=production", value)
        if self.credit_token == DEV_CREDIT_TOKEN:
            raise SettingsError(
                "GOVHUB_CREDIT_TOKEN",
                "the credit platform's real token, not the demo default",
                "<the development default>",
            )
        return self

    @model_validator(mode="after")
    def _keys_beside_home(self) -> Settings:
        """Keys default to <home>/keys; a mounted secret folder (GOVHUB_KEYS_DIR) lets hosts share them."""
        self.keys_dir = (self.keys_dir or self.home / "keys").expanduser().resolve()
        return self

    @field_validator("delivery_secret")
    @classmethod
    def _hex_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                if len(bytes.fromhex(value.get_secret_value().strip())) < 16:
                    raise ValueError
            except ValueError:
                raise ValueError("expected at least 32 hex digits (openssl rand -hex 32)") from None
        return value

    @field_validator("idp_public_key")
    @classmethod
    def _ed25519_pem(cls, value: str | None) -> str | None:
        if value is not None:
            value = value.replace("\\n", "\n")  # a PEM written on one line with \n escapes
            _check_ed25519_pem(value)
        return value

    @field_validator("db_url", "population_url", "legal_entity_url")
    @classmethod
    def _sqlalchemy_url(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError("expected a SQLAlchemy URL such as postgresql+psycopg://user@host/db")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")) or "?" in value or "#" in value:
            raise ValueError("expected the hub's address as people reach it, such as https://data.yiyang.gov.cn")
        return value

    @property
    def idp_public_key_pem(self) -> str | None:
        """The identity provider's public key: the setting, its file, else `<keys>/idp-public.pem`; None if none."""
        if self.idp_public_key:
            return self.idp_public_key
        path = self.idp_public_key_file or (self.keys_dir or self.home / "keys") / "idp-public.pem"
        if self.idp_public_key_file is not None and not path.is_file():
            raise SettingsError("GOVHUB_IDP_PUBLIC_KEY_FILE", "a readable PEM file", str(path))
        if not path.is_file():
            return None
        pem = path.read_text(encoding="ascii", errors="replace")
        try:
            _check_ed25519_pem(pem)
        except ValueError as e:
            raise SettingsError("GOVHUB_IDP_PUBLIC_KEY_FILE", f"an Ed25519 public key in PEM ({e})", str(path)) from e
        return pem

    @property
    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def serving_refresh_interval(self) -> int:
        """Seconds between the web app's serving-store refreshes from the lake; 0 when off."""
        if self.serving_refresh_seconds is not None:
            return self.serving_refresh_seconds
        return 60 if self.environment == "production" else 0

    @property
    def metadata_url(self) -> str:
        return self.db_url or f"sqlite:///{self.resolved_home / 'govhub.db'}"

    @property
    def lake_root(self) -> str:
        return self.lake_url or str(self.resolved_home / "lake")

    @property
    def lake_storage_options(self) -> dict[str, str] | None:
        """delta-rs / object_store options for an s3:// lake; None for a local folder."""
        if not self.lake_root.startswith("s3://"):
            return None
        return self.object_store_options("lake")

    def object_store_options(self, what: str) -> dict[str, str]:
        """Endpoint and credentials of the hub's object store (the lake's bucket, an s3:// inbox)."""
        if not (self.s3_access_key and self.s3_secret_key):
            raise SettingsError("GOVHUB_S3_ACCESS_KEY/GOVHUB_S3_SECRET_KEY", f"credentials for the s3:// {what}", None)
        options = {
            "AWS_ACCESS_KEY_ID": self.s3_access_key,
            "AWS_SECRET_ACCESS_KEY": self.s3_secret_key,
            "AWS_REGION": self.s3_region,
        }
        if self.s3_endpoint:
            options["AWS_ENDPOINT_URL"] = self.s3_endpoint
        if self.s3_allow_http:
            options["AWS_ALLOW_HTTP"] = "true"
        return options

    @property
    def lineage_file(self) -> Path:
        """The OpenLineage events file (JSON lines) the monitor reads."""
        return self.resolved_home / "lineage" / "events.jsonl"

    @property
    def lineage_transport_config(self) -> dict[str, Any] | None:
        """The OpenLineage transport (client and Airflow provider): file, file + HTTP, or None when off."""
        if self.lineage_transport == "none":
            return None
        file = {"type": "file", "log_file_path": str(self.lineage_file), "append": True}
        if self.lineage_transport == "file":
            return file
        if not self.lineage_url:
            raise SettingsError("GOVHUB_LINEAGE_URL", "an OpenLineage endpoint for lineage_transport=http", None)
        http: dict[str, Any] = {
            "type": "http",
            "url": self.lineage_url,
            "endpoint": self.lineage_endpoint,
            "timeout": self.lineage_timeout,
            "retry": {"total": 2, "read": 2, "connect": 2},
        }
        if self.lineage_api_key:
            http["auth"] = {"type": "api_key", "apiKey": self.lineage_api_key}
        return {"type": "composite", "transports": {"file": file, "http": http}, "continue_on_failure": True}

    @property
    def delivery_targets_dir(self) -> Path:
        """Secret files holding delivery target connections written by `govhub target add --url` (0600)."""
        return Path(self.keys_dir or self.resolved_home / "keys") / "delivery-targets"

    @property
    def hub_stores(self) -> dict[str, str]:
        """The hub's own databases, which no delivery target may reach: metadata store and source registries."""
        sources = {"population registry": self.population_url, "legal-entity registry": self.legal_entity_url}
        return {"hub metadata store": self.metadata_url, **{k: v for k, v in sources.items() if v}}

    @property
    def sources_home(self) -> Path:
        return self.resolved_home / "sources"

    def source_config(self, contract: _HasSource) -> dict[str, Any]:
        """Connection settings for a contract's source system (embedded simulators by default)."""
        system = contract.source.system
        if system == "population":
            return {"url": self.population_url or f"sqlite:///{self.sources_home / 'population.sqlite'}"}
        if system == "legal_entity":
            return {"url": self.legal_entity_url or f"sqlite:///{self.sources_home / 'legal_entity.sqlite'}"}
        if system == "credit":
            return {
                "base_url": self.credit_base_url,
                "token": self.credit_token,
                "timeout": self.credit_timeout,
                "max_retries": self.credit_max_retries,
            }
        if system == "nontax":
            inbox = self.nontax_inbox or str(self.sources_home / "inbox")
            if inbox.startswith("s3://"):
                return {"inbox": inbox, "storage_options": self.object_store_options("inbox")}
            return {"inbox": inbox}
        raise SettingsError(f"GOVHUB_{system.upper()}_*", "a configured source system", system)


def _check_ed25519_pem(pem: str) -> None:
    """ValueError unless `pem` is an Ed25519 public key (SubjectPublicKeyInfo PEM)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem.strip().encode("ascii", errors="replace"))
    except (ValueError, TypeError) as e:
        raise ValueError("expected an Ed25519 public key in PEM (-----BEGIN PUBLIC KEY-----)") from e
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"expected an Ed25519 public key, got {type(key).__name__}")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; a malformed variable fails here, naming it.

    GOVHUB_SECRETS_DIR names a folder of mounted secret files, one per setting (`govhub_db_url`,
    `govhub_s3_secret_key`, `govhub_delivery_secret`...; Docker secrets, Kubernetes secret volumes);
    an environment variable of the same name wins over its file.
    """
    import os

    secrets_dir = os.environ.get("GOVHUB_SECRETS_DIR")
    if secrets_dir and not Path(secrets_dir).is_dir():
        raise SettingsError("GOVHUB_SECRETS_DIR", "a folder of mounted secret files", secrets_dir)
    try:
        return Settings(_secrets_dir=secrets_dir or None)
    except ValidationError as e:
        error = e.errors()[0]
        name = "GOVHUB_" + str(error["loc"][0]).upper() if error["loc"] else "GOVHUB_*"
        raise SettingsError(name, error["msg"], error.get("input")) from e


def reset_settings() -> None:
    """Forget the cached settings (tests and the CLI's --home option change the environment)."""
    get_settings.cache_clear()


def set_home(home: Path) -> None:
    """Point this process (and the in-process Airflow tasks it runs) at another GOVHUB_HOME."""
    import os

    os.environ["GOVHUB_HOME"] = str(Path(home).expanduser().resolve())
    reset_settings()


def set_credit_base_url(url: str) -> None:
    """Point the credit connector at a running credit platform (the demo starts the simulator)."""
    import os

    os.environ["GOVHUB_CREDIT_BASE_URL"] = url
    reset_settings()


def set_source_urls(population_url: str, legal_entity_url: str, nontax_inbox: Path) -> None:
    """Point the connectors at a simulator home's registries and inbox (the demo builds them)."""
    import os

    os.environ.update(
        GOVHUB_POPULATION_URL=population_url,
        GOVHUB_LEGAL_ENTITY_URL=legal_entity_url,
        GOVHUB_NONTAX_INBOX=str(nontax_inbox),
    )
    reset_settings()
