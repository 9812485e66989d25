"""TradeData against a real broker: one record per valid POST, nothing for refusals, 503 without a broker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fixtures.kafka import Record, create_topic
from shared.kafka import partition_for
from shared.schema import SAMPLE_TRADE
from shared.settings import Settings
from tradedata.app import create_app
from tradestore.local.kafka import EmbeddedBroker
from tradestore.local.process import free_port


def test_valid_post_puts_exactly_one_record_with_key_value_and_partition(
    client: TestClient, topic: str, topic_reader: Callable[..., list[Record]]
) -> None:
    r = client.post("/trades", json=SAMPLE_TRADE)
    assert r.status_code == 201, r.text
    answer = r.json()
    (record,) = topic_reader(topic)
    assert record.key == b"T-1001:1:B-1"
    assert json.loads(record.value or b"") == {**SAMPLE_TRADE, "expired": True}
    assert record.partition == partition_for("T-1001", 4) == answer["partition"]
    assert record.offset == answer["offset"]


def test_all_versions_of_a_trade_share_a_partition(
    client: TestClient, topic: str, topic_reader: Callable[..., list[Record]]
) -> None:
    for version in (1, 2, 3):
        assert client.post("/trades", json={**SAMPLE_TRADE, "version": version}).status_code == 201
    records = topic_reader(topic)
    assert [r.key for r in records] == [b"T-1001:1:B-1", b"T-1001:2:B-1", b"T-1001:3:B-1"]
    assert len({r.partition for r in records}) == 1


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"trade_id": "T-1",', "application/json", 400),
        (json.dumps(SAMPLE_TRADE).encode(), "text/plain", 415),
        (json.dumps({**SAMPLE_TRADE, "pad": "x" * 70_000}).encode(), "application/json", 413),
        (json.dumps({**SAMPLE_TRADE, "version": 0}).encode(), "application/json", 422),
        (json.dumps({**SAMPLE_TRADE, "created_date": "2999-01-01"}).encode(), "application/json", 422),
        (json.dumps({**SAMPLE_TRADE, "unknown": 1}).encode(), "application/json", 422),
    ],
)
def test_bad_requests_get_their_4xx_and_leave_the_topic_unchanged(
    client: TestClient,
    topic: str,
    topic_reader: Callable[..., list[Record]],
    content: bytes,
    content_type: str,
    status: int,
) -> None:
    r = client.post("/trades", content=content, headers={"content-type": content_type})
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert topic_reader(topic, idle_s=0.5) == []


@pytest.mark.local_only  # starts and stops a broker of its own
def test_with_the_broker_stopped_post_answers_503_never_2xx(tmp_path: Path) -> None:
    broker = EmbeddedBroker("127.0.0.1", free_port(), tmp_path)
    broker.start()
    try:
        topic = create_topic(broker.bootstrap, "trades")
        settings = Settings(
            kafka_bootstrap_servers=broker.bootstrap,
            trades_topic=topic,
            kafka_publish_timeout_s=1.5,
            tradedata_api_keys=None,  # in-process app: auth off even when the environment names keys
        )
        with TestClient(create_app(settings)) as http:
            assert http.post("/trades", json=SAMPLE_TRADE).status_code == 201
            assert http.get("/ready").status_code == 200
            broker.stop()
            started = time.monotonic()
            r = http.post("/trades", json={**SAMPLE_TRADE, "version": 2})
            waited = time.monotonic() - started
            assert r.status_code == 503
            assert r.headers["retry-after"] == "1"
            assert waited < 1.5 + 1.5  # bounded by the publish timeout, not hung
            assert http.get("/ready").status_code == 503
    finally:
        broker.stop()
