"""API keys on TradeData: 401 without a key, 403 with a wrong one, reads optional, secrets never echoed."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shared.kafka import Delivery
from shared.schema import SAMPLE_TRADE
from shared.settings import Settings
from tradedata.app import create_app
from tradedata.auth import key_matches
from tradestore_tools.faults.fuzz import AckingProducer

TODAY = date(2026, 11, 24)
LIVE = {**SAMPLE_TRADE, "maturity_date": "2027-06-30"}
KEYS = "alpha-key-123, beta-key-456"


class Producer(AckingProducer):
    """Acknowledges everything (single and batch sends) and records the keys it was given."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, topic: str, value: Any, key: bytes) -> Future[Delivery]:
        self.sent.append(key)
        return super().send(topic, value, key)

    def send_many(self, topic: str, records: Iterable[tuple[str, bytes, bytes]], on_delivery: Any) -> int:
        listed = list(records)
        self.sent.extend(key for _, key, _ in listed)
        return super().send_many(topic, listed, on_delivery)


class Reader:
    def versions(self, trade_id: str) -> list[Any]:
        return []

    def find(self, filters: dict[str, Any], limit: int, offset: int) -> tuple[list[Any], int]:
        return [], 0


@pytest.fixture
def producer() -> Producer:
    return Producer()


def make_client(producer: Producer, **settings: Any) -> TestClient:
    app = create_app(Settings(tradestore_env="test", **settings), producer=producer, clock=lambda: TODAY)
    app.state.ctx.extras["reader"] = Reader()
    return TestClient(app)


@pytest.fixture
def client(producer: Producer) -> Iterator[TestClient]:
    with make_client(producer, tradedata_api_keys=KEYS) as http:
        yield http


def test_post_without_key_is_401_problem_with_www_authenticate_and_nothing_sent(
    client: TestClient, producer: Producer
) -> None:
    r = client.post("/trades", json=LIVE)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["status"] == 401
    assert "X-API-Key" in r.json()["detail"]
    assert producer.sent == []


@pytest.mark.parametrize(
    "headers",
    [{"X-API-Key": "nope"}, {"Authorization": "Bearer nope"}, {"X-API-Key": "alpha-key-123x"}],
)
def test_wrong_key_is_403_and_the_key_is_not_echoed(
    client: TestClient, producer: Producer, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tradedata.auth"):
        r = client.post("/trades", json=LIVE, headers=headers)
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"
    presented = next(iter(headers.values())).removeprefix("Bearer ")
    for text in (r.text, caplog.text):
        assert presented not in text
        assert "alpha-key-123" not in text
    assert "invalid API key" in caplog.text
    assert producer.sent == []


@pytest.mark.parametrize(
    "headers", [{"X-API-Key": "alpha-key-123"}, {"Authorization": "Bearer beta-key-456"}]
)
def test_any_configured_key_by_header_or_bearer_is_accepted(
    client: TestClient, producer: Producer, headers: dict[str, str]
) -> None:
    assert client.post("/trades", json=LIVE, headers=headers).status_code == 201
    assert producer.sent == [b"T-1001:1:B-1"]


def test_a_valid_key_next_to_a_wrong_one_is_refused(client: TestClient) -> None:
    headers = {"X-API-Key": "alpha-key-123", "Authorization": "Bearer wrong"}
    assert client.post("/trades", json=LIVE, headers=headers).status_code == 403


def test_batch_route_requires_a_key_too(client: TestClient, producer: Producer) -> None:
    assert client.post("/trades/batch", json=[LIVE]).status_code == 401
    r = client.post("/trades/batch", json=[LIVE], headers={"X-API-Key": "beta-key-456"})
    assert r.status_code == 200
    assert producer.sent == [b"T-1001:1:B-1"]


def test_auth_is_checked_before_the_body_is_read(client: TestClient) -> None:
    r = client.post("/trades", content=b"x" * 100_000, headers={"content-type": "text/plain"})
    assert r.status_code == 401


def test_reads_and_probes_are_open_by_default(client: TestClient) -> None:
    assert client.get("/trades").status_code == 200
    assert client.get("/trades/T-1").status_code == 404
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200


def test_reads_require_a_key_when_configured(producer: Producer) -> None:
    with make_client(producer, tradedata_api_keys=KEYS, tradedata_read_requires_auth=True) as http:
        assert http.get("/trades").status_code == 401
        assert http.get("/trades", headers={"X-API-Key": "bad"}).status_code == 403
        assert http.get("/trades", headers={"X-API-Key": "alpha-key-123"}).status_code == 200
        assert http.get("/health").status_code == 200  # probes stay open for the orchestrator


def test_auth_off_by_default_and_openapi_then_declares_no_security(producer: Producer) -> None:
    with make_client(producer) as http:
        assert http.post("/trades", json=LIVE).status_code == 201
        spec = http.get("/openapi.json").json()
    assert "securitySchemes" not in spec.get("components", {})
    assert "401" not in spec["paths"]["/trades"]["post"]["responses"]


def test_openapi_declares_both_schemes_and_401_403_when_auth_is_on(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"apiKey", "http"}
    responses = spec["paths"]["/trades"]["post"]["responses"]
    assert {"401", "403"} <= set(responses)
    assert "security" not in spec["paths"]["/health"]["get"]


def test_key_comparison_checks_every_configured_key() -> None:
    import hashlib

    digests = [hashlib.sha256(k.encode()).digest() for k in ("a", "b", "c")]
    assert key_matches("c", digests)
    assert not key_matches("d", digests)
    assert not key_matches("", digests)
    assert key_matches("\ud800", [hashlib.sha256("\ud800".encode("utf-8", "surrogatepass")).digest()])


def test_settings_parse_comma_separated_keys_and_never_print_them() -> None:
    cfg = Settings(tradedata_api_keys=SecretStr(" k1 ,k2,, "))
    assert cfg.api_keys() == ["k1", "k2"]
    assert "k1" not in repr(cfg)
    assert "k1" not in str(cfg.model_dump())
    assert {"k1", "k2"} <= set(cfg.secret_values())


def test_production_api_refuses_auth_off_unless_anonymous_is_explicit() -> None:
    with pytest.raises(RuntimeError, match="TRADEDATA_API_KEYS is empty in production"):
        create_app(Settings(tradestore_env="production"))
    assert Settings(tradestore_env="production").api_keys() == []  # a consumer needs no keys
    create_app(Settings(tradestore_env="production", tradedata_allow_anonymous=True))
    create_app(Settings(tradestore_env="production", tradedata_api_keys=SecretStr("s3cr3t-k3y")))
    with pytest.raises(RuntimeError, match="placeholder") as info:
        create_app(Settings(tradestore_env="production", tradedata_api_keys=SecretStr("good-key,changeme")))
    assert "good-key" not in str(info.value)


def test_settings_read_security_fields_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEDATA_API_KEYS", "env-key")
    monkeypatch.setenv("TRADEDATA_READ_REQUIRES_AUTH", "true")
    monkeypatch.setenv("TRADEDATA_LIMIT_CONCURRENCY", "64")
    cfg = Settings()
    assert cfg.api_keys() == ["env-key"]
    assert cfg.tradedata_read_requires_auth is True
    assert cfg.tradedata_limit_concurrency == 64


# Transport security: Kafka SASL_SSL/SCRAM and TLS settings reach librdkafka from the environment.

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
