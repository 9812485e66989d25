"""Transport security: Kafka SASL_SSL/SCRAM and TLS settings reach every librdkafka client from the env."""

from __future__ import annotations

import pytest

from shared.settings import Settings

SCRAM_ENV = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "tradedata",
    "KAFKA_SASL_PASSWORD": "scram-pass-from-env",
}


def test_kafka_sasl_ssl_scram_settings_reach_every_client_config(monkeypatch: pytest.MonkeyPatch) -> None:
    import certifi

    from shared.consumer.runtime import consumer_config
    from shared.kafka import client_config, producer_config

    for name, value in {**SCRAM_ENV, "KAFKA_SSL_CA_LOCATION": certifi.where()}.items():
        monkeypatch.setenv(name, value)
    cfg = Settings()
    expected = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "tradedata",
        "sasl.password": "scram-pass-from-env",
        "ssl.ca.location": certifi.where(),
    }
    for config in (client_config(cfg), producer_config(cfg), consumer_config(cfg, "mongo")):
        assert expected.items() <= config.items()
    assert "scram-pass-from-env" not in repr(cfg)
    assert "scram-pass-from-env" in cfg.secret_values()


def test_librdkafka_accepts_the_sasl_ssl_scram_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client library is built with SSL and SCRAM: a bad build would refuse this config at creation."""
    import certifi
    from confluent_kafka import Producer

    from shared.kafka import producer_config

    for name, value in SCRAM_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KAFKA_SSL_CA_LOCATION", certifi.where())
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    producer = Producer(producer_config(Settings()))
    assert producer.flush(0) == 0
