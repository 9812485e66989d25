"""One settings class for every service, read from environment variables (names documented in README).

URLs that may hold a password are SecretStr: printing Settings never shows them.
"""

from __future__ import annotations

import enum
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.credentials import ApiKeySpec, CredentialsError, parse_api_keys
from shared.rules import MaturedPolicy

# Passwords that appear in docs and examples; refused outside local development.
PLACEHOLDER_SECRETS = frozenset({"YourStrong!Pass", "changeme", "change-me", "password", "secret", "admin"})


class Settings(BaseSettings):
    """Every knob of TradeStore. Environment variable = field name in upper case."""

    # hide_input_in_errors: a validation error would otherwise print every input, secrets included.
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=False, hide_input_in_errors=True
    )

    tradestore_env: Literal["local", "test", "production"] = "local"
    tradestore_home: Path = Path(".tradestore")
    tradestore_matured_policy: MaturedPolicy = MaturedPolicy.FLAG
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    # TradeData HTTP API
    tradedata_host: str = "127.0.0.1"
    tradedata_port: int = Field(default=8001, ge=1, le=65535)
    tradedata_max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    tradedata_workers: int = Field(default=1, ge=1)
    tradedata_url: str | None = None  # where tools (regress, tests) reach the API; default from host/port

    # Operations console (/console, docs/operations.md): the sinks' probe servers it shows, as
    # name=url pairs (TRADEDATA_CONSOLE_SINKS, e.g. "mongo=http://127.0.0.1:9101,sql=http://127.0.0.1:9102"),
    # and the key signing its confirmation tokens (TRADEDATA_CONSOLE_SECRET; default: a random key kept in
    # TRADESTORE_HOME/console.secret, shared by the API's workers).
    tradedata_console_sinks: str | None = None
    tradedata_console_secret: SecretStr | None = None

    # Kafka
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    trades_topic: str = "trades"
    trades_dlq_topic: str = "trades.dlq"
    trades_topic_partitions: int = Field(default=4, ge=1)
    trades_topic_replication: int = Field(default=-1, ge=-1)  # -1: the broker's default.replication.factor
    kafka_publish_timeout_s: float = Field(default=5.0, gt=0)
    kafka_linger_ms: int = Field(default=5, ge=0)
    kafka_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "lz4"
    kafka_queue_max_messages: int = Field(default=100_000, ge=1)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: str | None = None
    kafka_ssl_certificate_location: str | None = None
    kafka_ssl_key_location: str | None = None

    # Kafka, TradeData's single-POST producer (issue 14, docs/performance.md): a single POST waits for its
    # acknowledgement, so a closed loop of N clients runs at about N / (linger + ~1.5 ms), and records
    # sent one by one gain nothing from compression. TRADEDATA_LINGER_MS and TRADEDATA_COMPRESSION replace
    # KAFKA_LINGER_MS / KAFKA_COMPRESSION for the producer of plain POST /trades; batches keep those.
    tradedata_linger_ms: int = Field(default=1, ge=0)
    tradedata_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "none"

    # Trade outcomes (shared.outcomes): each sink publishes its verdict on every record to
    # TRADES_OUTCOMES_TOPIC; the API waits for them on `Prefer: wait=N` (N capped at
    # TRADEDATA_PREFER_WAIT_MAX_S) and answers GET /trades/{id}/status. TRADEDATA_OUTCOME_SINKS: the sinks
    # that must all have stored a record for it to count as stored (comma-separated sink names).
    trades_outcomes_topic: str = "trades.outcomes"
    tradedata_prefer_wait_max_s: float = Field(default=30.0, gt=0)
    tradedata_outcome_sinks: str = "mongo,sql"
    tradedata_outcome_lookback_s: float = Field(default=60.0, ge=0)  # the watcher reads back this far
    tradedata_outcome_cache: int = Field(default=100_000, ge=1)  # records whose verdicts the API keeps

    # Stores
    mongo_url: SecretStr = SecretStr("mongodb://127.0.0.1:27017")
    mongo_db: str = "trade_store"
    mongo_collection: str = "trades"
    sql_url: SecretStr | None = None  # default: SQLite file under TRADESTORE_HOME

    # MongoDB client (shared.stores.mongo, the one place MongoDB is opened)
    # MONGO_TIMEOUT_MS: server selection and connect timeout; socket reads wait 5x longer (>= 10 s).
    mongo_timeout_ms: int = Field(default=2000, ge=100)

    # SQL store (issue 13): SQL_STATEMENT_TIMEOUT_S bounds one statement, SQL_LOCK_TIMEOUT_S a lock wait
    # (SQL Server LOCK_TIMEOUT, PostgreSQL lock_timeout, SQLite busy timeout); SQL_MSSQL_DATABASE is the
    # dedicated database `tradestore migrate` creates on SQL Server (used when SQL_URL names master);
    # SQL_EXPIRE_BATCH_ROWS bounds each UPDATE of the expiry job (below SQL Server's lock escalation).
    sql_statement_timeout_s: float = Field(default=30.0, gt=0)
    sql_lock_timeout_s: float = Field(default=10.0, gt=0)
    sql_mssql_database: str = Field(default="tradestore", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
    sql_expire_batch_rows: int = Field(default=4000, ge=1)

    # Consumers
    consumer_group: str | None = None  # default: tradestore-<sink>
    consumer_batch_size: int = Field(default=1000, ge=1)  # measured: bench/mongo_sink.py, docs/performance.md
    consumer_batch_timeout_ms: int = Field(default=100, ge=1)
    consumer_retry_initial_s: float = Field(default=0.2, gt=0)
    consumer_retry_max_s: float = Field(default=5.0, gt=0)
    consumer_instance_id: str | None = None  # group.instance.id: fast rejoin on restart
    consumer_session_timeout_ms: int = Field(default=6000, ge=1000)
    consumer_heartbeat_interval_ms: int = Field(default=500, ge=100)
    # --- consumer group protocol (issue 16; docs/scaling.md "Membership on Tansu") ---
    # CONSUMER_ASSIGNMENT_STRATEGY: librdkafka partition.assignment.strategy; unset = librdkafka's default
    # (range,roundrobin: eager, every rebalance revokes everything). cooperative-sticky moves only the
    # partitions that change owner. All members of a group must share a protocol: switch by a full restart.
    consumer_assignment_strategy: Literal["range", "roundrobin", "cooperative-sticky"] | None = None
    # --- stalled consumer (issue 16; shared/consumer/stall.py) ---
    # CONSUMER_STALL_S: a consumer holding partitions with records waiting that fetched nothing for this long
    # logs a WARNING, sets tradestore_consumer_stalled{sink} to 1 and answers 503 on /ready; 0 disables.
    consumer_stall_s: float = Field(default=30.0, ge=0)
    metrics_port: int = Field(default=0, ge=0, le=65535)  # 0: no metrics endpoint

    # Batch ingest (POST /trades/batch): item count and body size limits; 10,000 trades of ~200 bytes fit.
    tradedata_batch_max_items: int = Field(default=10_000, ge=1)
    tradedata_batch_max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)

    # Security (docs/security.md). API keys: TRADEDATA_API_KEYS (`id:scope,scope:secret` entries separated
    # by `;` or whitespace, or legacy comma-separated bare keys) and/or TRADEDATA_API_KEYS_FILE (one entry
    # a line). JWT bearer tokens: TRADEDATA_JWT_ISSUER, TRADEDATA_JWT_AUDIENCE and TRADEDATA_JWKS_URL or
    # TRADEDATA_JWKS_FILE. Any of them turns authentication on; then every route but the probes and the
    # OpenAPI description needs a principal, reads included unless TRADEDATA_OPEN_READS=true (which
    # production refuses without TRADEDATA_OPEN_READS_CONFIRMED=true). Plus a cap on concurrent
    # connections (uvicorn).
    tradedata_api_keys: SecretStr | None = None
    tradedata_api_keys_file: Path | None = None
    tradedata_open_reads: bool = False
    tradedata_open_reads_confirmed: bool = False
    tradedata_allow_anonymous: bool = False  # the API in production refuses auth off unless this is true
    tradedata_jwt_issuer: str | None = None
    tradedata_jwt_audience: str | None = None
    tradedata_jwks_url: str | None = None
    tradedata_jwks_file: Path | None = None
    tradedata_jwks_cache_s: int = Field(default=300, ge=10, le=86_400)
    tradedata_jwt_leeway_s: int = Field(default=30, ge=0, le=300)  # bounded clock skew
    tradedata_jwt_algorithms: str = "RS256,ES256"  # asymmetric only; none and HS* are always refused
    tradedata_limit_concurrency: int | None = Field(default=None, ge=1)  # beyond it uvicorn answers 503

    @field_validator("trades_topic_replication")
    @classmethod
    def _a_replication_factor(cls, value: int) -> int:
        if value == 0:
            raise ValueError("TRADES_TOPIC_REPLICATION is -1 (the broker's default) or a replica count >= 1")
        return value

    @model_validator(mode="after")
    def _no_placeholder_secrets_outside_local(self) -> Settings:
        if self.tradestore_env != "production":
            return self
        for name, value in (("MONGO_URL", self.mongo_url), ("SQL_URL", self.sql_url)):
            if value is None:
                continue
            password = urlsplit(value.get_secret_value()).password
            if password is not None and unquote(password) in PLACEHOLDER_SECRETS:
                raise ValueError(f"{name} uses a placeholder password; set a real secret in production")
        if self.kafka_sasl_password and self.kafka_sasl_password.get_secret_value() in PLACEHOLDER_SECRETS:
            raise ValueError("KAFKA_SASL_PASSWORD is a placeholder; set a real secret in production")
        return self

    @property
    def jwt_enabled(self) -> bool:
        return bool(self.tradedata_jwks_url or self.tradedata_jwks_file)

    def api_key_specs(self) -> list[ApiKeySpec]:
        """Every configured API key (id, scopes, secret), from the variable and the file."""
        specs = parse_api_keys(self.tradedata_api_keys.get_secret_value()) if self.tradedata_api_keys else []
        if self.tradedata_api_keys_file is not None:
            specs += parse_api_keys(self.tradedata_api_keys_file.read_text(encoding="utf-8"))
        return specs

    def api_keys(self) -> list[str]:
        """The configured API key secrets in clear (empty: no keys); for clients and scrubbing only."""
        try:
            return [k.secret for k in self.api_key_specs()]
        except CredentialsError:
            return []

    def outcome_sinks(self) -> frozenset[str]:
        """The sinks whose outcomes make a verdict (TRADEDATA_OUTCOME_SINKS)."""
        return frozenset(n.strip() for n in self.tradedata_outcome_sinks.split(",") if n.strip())

    @cached_property
    def sql_url_value(self) -> str:
        """The SQL URL in clear, for the engine only; log it through shared.redact.redact_url."""
        if self.sql_url is not None:
            return self.sql_url.get_secret_value()
        return f"sqlite:///{(self.tradestore_home / 'tradestore.db').resolve()}"

    @property
    def api_url(self) -> str:
        """The API's base URL for clients (TRADEDATA_URL, else the local host and port)."""
        if self.tradedata_url:
            return self.tradedata_url.rstrip("/")
        host = "127.0.0.1" if self.tradedata_host in ("0.0.0.0", "::") else self.tradedata_host  # noqa: S104
        return f"http://{host}:{self.tradedata_port}"

    @property
    def mongo_url_value(self) -> str:
        return self.mongo_url.get_secret_value()

    def to_env(self) -> dict[str, str]:
        """Every setting as the environment variable that sets it, secrets in clear: for child processes."""
        env: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, enum.Enum):
                value = value.value
            elif isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, Path):
                value = value.resolve()
            env[name.upper()] = str(value)
        env["SQL_URL"] = self.sql_url_value
        return env

    def secret_values(self) -> list[str]:
        """Every secret in clear, so error texts can be scrubbed of them."""
        values = [self.mongo_url_value, self.sql_url_value]
        for url in (self.mongo_url_value, self.sql_url_value):
            password = urlsplit(url).password
            if password:
                values.extend([password, unquote(password)])
        if self.kafka_sasl_password:
            values.append(self.kafka_sasl_password.get_secret_value())
        values.extend(self.api_keys())
        return values


def load_settings() -> Settings:
    """Read Settings from the environment (one place, called by entry points, never at import time)."""
    return Settings()
