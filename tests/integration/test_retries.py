"""Resilience (test design 4.3): bad payloads reach nothing, and a stopped consumer or store loses nothing."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fixtures.consumers import by_key, expected_store, make_trade
from fixtures.pipeline import Pipeline, poll
from tradestore.local.services import ServiceProcess


def store_retries(consumer: ServiceProcess) -> float:
    """The consumer's own count of failed store calls it retried (tradestore_retries_total, /metrics)."""
    with urllib.request.urlopen(consumer.url + "/metrics", timeout=5) as resp:  # noqa: S310
        text = resp.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "tradestore_retries_total"
    )


BAD_BODIES = [
    (b'{"trade_id": "X",', "application/json", 400),
    (b'{"trade_id": "X"}', "application/json", 422),
    (json.dumps(make_trade("X", version=0)).encode(), "application/json", 422),
    (json.dumps(make_trade("X", created_date="2999-01-01")).encode(), "application/json", 422),
    (json.dumps(make_trade("X")).encode(), "text/plain", 415),
]


@pytest.mark.parametrize(("body", "content_type", "status"), BAD_BODIES)
def test_bad_payload_gets_4xx_and_nothing_reaches_kafka(
    pipeline: Pipeline, prefix: str, body: bytes, content_type: str, status: int
) -> None:
    client = pipeline.client()
    client.headers["content-type"] = content_type
    conn = client._connection()
    conn.request(
        "POST", "/trades", body=body.replace(b'"X"', f'"{prefix}X"'.encode()), headers=client.headers
    )
    response = conn.getresponse()
    problem = json.loads(response.read())
    assert response.status == status
    assert problem["status"] == status
    assert problem["detail"]
    assert pipeline.topic_records(prefix) == []


@pytest.mark.local_only
def test_consumer_down_then_started_drains_and_persists(local_pipeline: Pipeline, prefix: str) -> None:
    consumer = local_pipeline.consumer("kafkaconsumer")
    consumer.stop()
    try:
        for i in range(20):
            assert local_pipeline.post(make_trade(f"{prefix}C-{i}"))[0] == 201
        poll(
            lambda: list(local_pipeline.sql.iter_trades(prefix)), lambda sql: len(sql) == 20
        )  # SQL sink runs
        assert (
            list(local_pipeline.mongo.iter_trades(prefix)) == []
        )  # nothing in MongoDB while its consumer is down
    finally:
        consumer.start(timeout_s=60)
    mongo, sql = local_pipeline.wait_stored(prefix, 20, timeout_s=60)
    assert by_key(mongo) == by_key(sql) == expected_store(*(make_trade(f"{prefix}C-{i}") for i in range(20)))


@pytest.mark.local_only
def test_mongodb_unavailable_then_back_every_trade_eventually_exists(
    local_pipeline: Pipeline, prefix: str
) -> None:
    server = local_pipeline.mongo_server()
    consumer = local_pipeline.consumer("kafkaconsumer")
    retried_before = store_retries(consumer)
    server.stop()
    try:
        for i in range(20):
            assert (
                local_pipeline.post(make_trade(f"{prefix}M-{i}"))[0] == 201
            )  # the API does not need MongoDB
        poll(lambda: list(local_pipeline.sql.iter_trades(prefix)), lambda sql: len(sql) == 20)
        # the outage is the point: the Mongo consumer has failed (and retried) at least once before it ends
        poll(lambda: store_retries(consumer), lambda n: n > retried_before)
    finally:
        server.start()
    started = time.monotonic()
    mongo, sql = local_pipeline.wait_stored(prefix, 20, timeout_s=60)
    print(f"MongoDB sink caught up {time.monotonic() - started:.1f}s after the server came back")
    assert by_key(mongo) == by_key(sql) == expected_store(*(make_trade(f"{prefix}M-{i}") for i in range(20)))


@pytest.mark.local_only
def test_sql_database_unavailable_then_back_every_row_eventually_exists(
    local_pipeline: Pipeline, prefix: str
) -> None:
    database = local_pipeline.postgres
    assert database is not None
    consumer = local_pipeline.consumer("kafkaconsumermssql")
    retried_before = store_retries(consumer)
    database.stop()
    try:
        for i in range(20):
            assert local_pipeline.post(make_trade(f"{prefix}S-{i}"))[0] == 201
        poll(lambda: list(local_pipeline.mongo.iter_trades(prefix)), lambda mongo: len(mongo) == 20)
        poll(lambda: store_retries(consumer), lambda n: n > retried_before)  # the SQL consumer failed
    finally:
        database.start()
    started = time.monotonic()
    mongo, sql = local_pipeline.wait_stored(prefix, 20, timeout_s=60)
    print(f"SQL sink caught up {time.monotonic() - started:.1f}s after PostgreSQL came back")
    assert by_key(mongo) == by_key(sql) == expected_store(*(make_trade(f"{prefix}S-{i}") for i in range(20)))
    assert local_pipeline.consumer("kafkaconsumermssql").alive()
