"""One settings class for every service, read from environment variables (names documented in README).

URLs that may hold a password are SecretStr: printing Settings never shows them.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.rules import MaturedPolicy

# Passwords that appear in docs and examples; refused outside local development.
PLACEHOLDER_SECRETS = frozenset({"YourStrong!Pass", "changeme", "change-me", "password", "secret", "admin"})


class Settings(BaseSettings):
    """Every knob of TradeStore. Environment variable = field name in upper case."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

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

    # Kafka
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    trades_topic: str = "trades"
    trades_dlq_topic: str = "trades.dlq"
    trades_topic_partitions: int = Field(default=4, ge=1)
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

    # Stores
    mongo_url: SecretStr = SecretStr("mongodb://127.0.0.1:27017")
    mongo_db: str = "trade_store"
    mongo_collection: str = "trades"
    sql_url: SecretStr | None = None  # default: SQLite file under TRADESTORE_HOME

    # Consumers
    consumer_group: str | None = None  # default: tradestore-<sink>
    consumer_batch_size: int = Field(default=500, ge=1)
    consumer_batch_timeout_ms: int = Field(default=100, ge=1)
    consumer_retry_initial_s: float = Field(default=0.2, gt=0)
    consumer_retry_max_s: float = Field(default=5.0, gt=0)
    consumer_instance_id: str | None = None  # group.instance.id: fast rejoin on restart
    consumer_session_timeout_ms: int = Field(default=6000, ge=1000)
    consumer_heartbeat_interval_ms: int = Field(default=500, ge=100)
    metrics_port: int = Field(default=0, ge=0, le=65535)  # 0: no metrics endpoint

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

    @cached_property
    def sql_url_value(self) -> str:
        """The SQL URL in clear, for the engine only; log it through shared.redact.redact_url."""
        if self.sql_url is not None:
            return self.sql_url.get_secret_value()
        return f"sqlite:///{(self.tradestore_home / 'tradestore.db').resolve()}"

    @property
    def mongo_url_value(self) -> str:
        return self.mongo_url.get_secret_value()

    def secret_values(self) -> list[str]:
        """Every secret in clear, so error texts can be scrubbed of them."""
        values = [self.mongo_url_value, self.sql_url_value]
        for url in (self.mongo_url_value, self.sql_url_value):
            password = urlsplit(url).password
            if password:
                values.extend([password, unquote(password)])
        if self.kafka_sasl_password:
            values.append(self.kafka_sasl_password.get_secret_value())
        return values


def load_settings() -> Settings:
    """Read Settings from the environment (one place, called by entry points, never at import time)."""
    return Settings()
