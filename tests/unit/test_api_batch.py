"""POST /trades/batch, fake producer: per-item results by index, limits, media types, no false accept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError
from fastapi.testclient import TestClient

from shared.rules import MaturedPolicy
from shared.schema import SAMPLE_TRADE, TradePayload
from tradedata.fastpath import plain_value
from tradedata.service import Record, accept
from unit.test_api_http import LIVE, TODAY, FakeMessage, FakeProducer, make_client

NDJSON = {"content-type": "application/x-ndjson"}


@pytest.fixture
def producer() -> FakeProducer:
    return FakeProducer()


@pytest.fixture
def client(producer: FakeProducer) -> Iterator[TestClient]:
    with make_client(producer, tradedata_batch_max_items=5) as http:
        yield http


def trade(n: int, **changes: Any) -> dict[str, Any]:
    return {**LIVE, "trade_id": f"T-{n}", **changes}


def test_mixed_batch_reports_each_item_by_index_and_publishes_only_valid_ones(
    client: TestClient, producer: FakeProducer
) -> None:
    items = [trade(0), trade(1, version=0), trade(2), "not a trade", trade(4, colour="red")]
    r = client.post("/trades/batch", json=items)
    assert r.status_code == 200
    body = r.json()
    assert body["counts"] == {"accepted": 2, "rejected": 3, "failed": 0}
    assert [x["index"] for x in body["results"]] == [0, 1, 2, 3, 4]
    assert [x["status"] for x in body["results"]] == [
        "accepted",
        "rejected",
        "accepted",
        "rejected",
        "rejected",
    ]
    assert body["results"][0] == {"index": 0, "status": "accepted", "partition": 2, "offset": 0}
    assert body["results"][1]["errors"][0]["loc"] == ["version"]
    assert body["results"][4]["errors"][0]["msg"] == "unknown field; remove it or check its spelling"
    assert [key for _, _, key in producer.sent] == [b"T-0:1:B-1", b"T-2:1:B-1"]


def test_item_errors_are_those_of_post_trades(client: TestClient) -> None:
    bad = {**LIVE, "trade_id": " T-1", "version": "2", "maturity_date": "2026-02-30"}
    single = client.post("/trades", json=bad).json()["errors"]
    assert client.post("/trades/batch", json=[bad]).json()["results"][0]["errors"] == single
    dates = {**LIVE, "created_date": "2026-11-25", "maturity_date": "2026-11-20"}
    single = client.post("/trades", json=dates).json()["errors"]
    assert client.post("/trades/batch", json=[dates]).json()["results"][0]["errors"] == single


def test_published_value_is_byte_identical_to_the_single_post_path(producer: FakeProducer) -> None:
    for data in (LIVE, SAMPLE_TRADE, {**LIVE, "expired": True}, {**LIVE, "trade_id": "Tr\u00e9-1"}):
        expected = TradePayload.model_validate(data)
        record = accept(data, TODAY, MaturedPolicy.FLAG)
        assert isinstance(record, Record)
        trade_id, key, value = record
        assert trade_id == expected.trade_id
        assert key == expected.kafka_key()
        assert json.loads(value) == {**expected.to_message(), "expired": expected.maturity_date < TODAY}


@pytest.mark.parametrize(
    "data",
    [
        {**LIVE, "trade_id": "T 1 "},
        {**LIVE, "trade_id": "x" * 65},
        {**LIVE, "version": True},
        {**LIVE, "version": 2**31},
        {**LIVE, "maturity_date": "2026-02-30"},
        {**LIVE, "created_date": "\u0662026-01-01"},
        {**LIVE, "expired": "no"},
        {k: v for k, v in LIVE.items() if k != "book_id"},
        {**LIVE, "created_date": "2027-01-01"},
        ["list"],
    ],
)
def test_fast_path_leaves_every_doubtful_item_to_the_model(data: Any) -> None:
    assert plain_value(data, TODAY, MaturedPolicy.FLAG) is None


def test_matured_trade_under_reject_policy_is_rejected_with_the_rule_error(producer: FakeProducer) -> None:
    with make_client(producer, tradestore_matured_policy="reject") as http:
        result = http.post("/trades/batch", json=[SAMPLE_TRADE]).json()["results"][0]
    assert result["status"] == "rejected"
    assert result["errors"][0]["type"] == "trade_matured"
    assert producer.sent == []


def test_ndjson_lines_are_items_and_a_bad_line_is_that_items_error(
    client: TestClient, producer: FakeProducer
) -> None:
    body = b"\n".join([orjson.dumps(trade(0)), b"{oops", b"", orjson.dumps(trade(2))]) + b"\n"
    r = client.post("/trades/batch", content=body, headers=NDJSON)
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["accepted", "rejected", "accepted"]
    assert results[1]["errors"][0]["type"] == "json_invalid"
    assert len(producer.sent) == 2


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"[1,", {"content-type": "application/json"}, 400),
        (b"[]", {"content-type": "text/plain"}, 415),
        (b'{"trade_id": "T-1"}', {"content-type": "application/json"}, 422),
        (orjson.dumps([LIVE] * 6), {"content-type": "application/json"}, 413),
        (b"\n".join([orjson.dumps(LIVE)] * 6), NDJSON, 413),
    ],
)
def test_whole_request_problems(
    client: TestClient, producer: FakeProducer, content: bytes, headers: dict[str, str], status: int
) -> None:
    r = client.post("/trades/batch", content=content, headers=headers)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert producer.sent == []


def test_body_over_the_batch_byte_limit_is_413(producer: FakeProducer) -> None:
    with make_client(producer, tradedata_batch_max_body_bytes=2048) as http:
        r = http.post("/trades/batch", json=[LIVE] * 20)
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert {k: body[k] for k in ("type", "title", "status")} == {
        "type": "about:blank",
        "title": "Request body too large",
        "status": 413,
    }
    assert "2048" in body["detail"]
    assert producer.sent == []


def test_empty_batch_is_processed_with_zero_counts(client: TestClient) -> None:
    assert client.post("/trades/batch", json=[]).json()["counts"] == {
        "accepted": 0,
        "rejected": 0,
        "failed": 0,
    }


@pytest.mark.parametrize("mode", ["nack", "never", "queue_full"])
def test_unacknowledged_items_are_failed_and_retryable_never_accepted(mode: str) -> None:
    with make_client(FakeProducer(mode)) as http:
        r = http.post("/trades/batch", json=[trade(0), trade(1), trade(2, version=0)])
    assert r.status_code == 200
    assert r.headers["retry-after"] == "1"
    body = r.json()
    assert body["counts"] == {"accepted": 0, "rejected": 1, "failed": 2}
    for result in body["results"][:2]:
        assert result["status"] == "failed"
        assert result["retryable"] is True
        assert result["reason"]


def test_openapi_documents_the_batch_route(client: TestClient) -> None:
    post = client.get("/openapi.json").json()["paths"]["/trades/batch"]["post"]
    assert {"application/json", "application/x-ndjson"} <= set(post["requestBody"]["content"])
    assert {"200", "400", "413", "415", "422"} <= set(post["responses"])


def test_published_results_read_each_position_into_its_items_index() -> None:
    from tradedata.publishing import Published
    from tradedata.routes.batch import published_results

    # positions 0-4 hold items 4, 0, 2, 3, 5: acknowledged, refused by the broker, never reported, not
    # queued, acknowledged on partition 0 at offset 0
    reports = {
        0: (None, FakeMessage(1, 7)),
        1: (KafkaError(KafkaError.NOT_ENOUGH_REPLICAS), None),
        4: (None, FakeMessage(0, 0)),
    }
    published = Published([4, 0, 2, 3, 5], 3, "producer queue is full", reports, 6.0)  # type: ignore[arg-type]
    results: list[dict[str, Any] | None] = [None] * 6
    assert published_results(published, results) == (2, 3)
    assert results[4] == {"index": 4, "status": "accepted", "partition": 1, "offset": 7}
    assert results[5] == {"index": 5, "status": "accepted", "partition": 0, "offset": 0}
    assert results[0] == {
        "index": 0, "status": "failed", "retryable": True,
        "reason": "broker did not acknowledge: Broker: Not enough in-sync replicas",
    }  # fmt: skip
    assert results[2] == {
        "index": 2, "status": "failed", "retryable": True,
        "reason": "broker did not acknowledge within 6s",
    }  # fmt: skip
    assert results[3] == {
        "index": 3,
        "status": "failed",
        "reason": "producer queue is full",
        "retryable": True,
    }
    assert results[1] is None  # not published: the route fills in its rejection
    assert published.outcomes() == {
        4: published.outcome(0), 0: published.outcome(1), 2: published.outcome(2), 3: published.outcome(3),
        5: published.outcome(4),
    }  # fmt: skip
    assert published.outcome(0) == ("accepted", 1, 7, "")
    assert [published.outcome(p).status for p in (1, 2, 3)] == ["failed"] * 3
