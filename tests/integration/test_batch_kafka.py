"""POST /trades/batch against a real broker: records on the topic exactly for the accepted items."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
from fastapi.testclient import TestClient

from fixtures.kafka import Record
from shared.kafka import partition_for
from shared.schema import SAMPLE_TRADE

LIVE = {**SAMPLE_TRADE, "maturity_date": "2099-06-30"}


def trade(n: int, **changes: Any) -> dict[str, Any]:
    return {**LIVE, "trade_id": f"T-{n}", **changes}


def test_mixed_batch_puts_one_record_per_accepted_item_at_the_reported_offset(
    client: TestClient, topic: str, topic_reader: Callable[..., list[Record]]
) -> None:
    items = [trade(n) if n % 3 else trade(n, version=0) for n in range(30)]
    r = client.post("/trades/batch", json=items)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["counts"] == {"accepted": 20, "rejected": 10, "failed": 0}
    accepted = {x["index"]: x for x in body["results"] if x["status"] == "accepted"}
    records = topic_reader(topic)
    assert len(records) == 20
    by_key = {r.key: r for r in records}
    for index, result in accepted.items():
        record = by_key[f"T-{index}:1:B-1".encode()]
        assert (record.partition, record.offset) == (result["partition"], result["offset"])
        assert record.partition == partition_for(f"T-{index}", 4)
        assert json.loads(record.value or b"") == {**items[index], "expired": False}


def test_ndjson_batch_and_versions_of_one_trade_keep_their_order(
    client: TestClient, topic: str, topic_reader: Callable[..., list[Record]]
) -> None:
    lines = [orjson.dumps({**LIVE, "version": v}) for v in (1, 2, 3)]
    r = client.post(
        "/trades/batch", content=b"\n".join(lines), headers={"content-type": "application/x-ndjson"}
    )
    assert r.json()["counts"]["accepted"] == 3
    records = topic_reader(topic)
    assert [r.key for r in records] == [b"T-1001:1:B-1", b"T-1001:2:B-1", b"T-1001:3:B-1"]


def test_refused_batches_leave_the_topic_unchanged(
    client: TestClient, topic: str, topic_reader: Callable[..., list[Record]]
) -> None:
    too_many = [trade(n) for n in range(10_001)]
    assert client.post("/trades/batch", json=too_many).status_code == 413
    assert client.post("/trades/batch", json=LIVE).status_code == 422
    assert client.post("/trades/batch", json=[trade(1, version=0)]).json()["counts"]["accepted"] == 0
    assert topic_reader(topic, idle_s=0.5) == []


def test_a_full_batch_of_ten_thousand_is_accepted(
    client: TestClient, topic: str, topic_reader: Callable[..., list[Record]]
) -> None:
    r = client.post("/trades/batch", json=[trade(n) for n in range(10_000)])
    assert r.json()["counts"] == {"accepted": 10_000, "rejected": 0, "failed": 0}
    assert len(topic_reader(topic)) == 10_000
