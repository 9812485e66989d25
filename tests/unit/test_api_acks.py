"""What a client is told about the broker's acknowledgement (tradedata.publishing through the HTTP API).

The fake producers here behave as TradeProducer.send_many does with librdkafka underneath: delivery
reports may come later, on another thread; a refused delivery carries the error *and* the message; the
producer may stop part-way through a batch when its queue is full. The client must get 201 / `accepted`
only for an acknowledged record, with the partition and offset of that acknowledgement, and otherwise a
503 / `failed` whose detail or reason says what happened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError
from fastapi.testclient import TestClient

from shared.settings import Settings
from tradedata.app import create_app
from unit.test_api_http import LIVE, TODAY, FakeMessage, FakeProducer, assert_problem

JSON = {"content-type": "application/json"}
ROUTE_ONLY = {"x-route-only": "1"}  # the FastAPI route answers instead of the raw fast path (hotpath)
OnDelivery = Callable[[int, Any, Any], None]
LATE_ACK_WAIT = {"kafka_publish_timeout_s": 9.0}  # the API awaits acknowledgements 9 + 1 s


def trade(n: int, **changes: Any) -> dict[str, Any]:
    return {**LIVE, "trade_id": f"T-{n}", **changes}


class Recording:
    """The part every fake shares: what was sent (topic, decoded value, key) and the readiness probe."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, bytes]] = []

    def broker_reachable(self, timeout_s: float = 2.0) -> bool:
        return True


class LateAcks(Recording):
    """A broker that acknowledges each record on the producer's delivery thread, after the send returned
    (librdkafka never reports a delivery from inside produce()). The latency only has to outlast the
    caller's own bookkeeping; the API's acknowledgement wait in these tests (LATE_ACK_WAIT) is 50 times
    longer, so a loaded machine cannot turn a late acknowledgement into a timeout."""

    def __init__(self, partition: int = 1, first_offset: int = 40, latency_s: float = 0.2) -> None:
        super().__init__()
        self.partition, self.first_offset, self.latency_s = partition, first_offset, latency_s
        self.threads: list[threading.Timer] = []

    def send_many(
        self,
        topic: str,
        records: Iterable[tuple[str, bytes, bytes]],
        on_delivery: OnDelivery,
        headers: Any = None,
    ) -> int:
        queued = 0
        for _, key, value in records:
            self.sent.append((topic, orjson.loads(value), key))
            queued += 1

        def report(count: int = queued, base: int = len(self.sent) - queued) -> None:
            for index in range(count):
                on_delivery(index, None, FakeMessage(self.partition, self.first_offset + base + index))

        timer = threading.Timer(self.latency_s, report)
        self.threads.append(timer)
        timer.start()
        return queued

    def join(self) -> None:
        for timer in self.threads:
            timer.join()


class Reports(Recording):
    """Delivers, synchronously, the report `report(index)` returns for each record: (error, message)."""

    def __init__(self, report: Callable[[int], tuple[Any, Any]], stop_after: int | None = None) -> None:
        super().__init__()
        self.report = report
        self.stop_after = stop_after

    def send_many(
        self,
        topic: str,
        records: Iterable[tuple[str, bytes, bytes]],
        on_delivery: OnDelivery,
        headers: Any = None,
    ) -> int:
        for index, (_, key, value) in enumerate(records):
            if index == self.stop_after:  # TradeProducer: produce() refused this one (BufferError)
                return index
            self.sent.append((topic, orjson.loads(value), key))
            on_delivery(index, *self.report(index))
        return len(self.sent)


def client_for(producer: Any, **settings: Any) -> TestClient:
    cfg = Settings(tradestore_env="test", **{"kafka_publish_timeout_s": 0.2, **settings})
    return TestClient(create_app(cfg, producer=producer, clock=lambda: TODAY))


@pytest.fixture(params=[{}, ROUTE_ONLY], ids=["fast path", "route"])
def extra(request: pytest.FixtureRequest) -> dict[str, str]:
    return dict(request.param)


def post_one(producer: Any, extra: dict[str, str], **settings: Any) -> Any:
    with client_for(producer, **settings) as http:
        return http.post("/trades", content=orjson.dumps(LIVE), headers={**JSON, **extra})


# --- when the answer is given: once the broker acknowledged, with that acknowledgement's position ---------


def test_a_late_acknowledgement_is_awaited_and_its_position_answered(extra: dict[str, str]) -> None:
    producer = LateAcks(partition=1, first_offset=40)
    r = post_one(producer, extra, **LATE_ACK_WAIT)
    producer.join()
    assert r.status_code == 201, r.text
    assert r.json() == {**LIVE, "topic": "trades", "partition": 1, "offset": 40}
    assert r.headers["location"] == "/trades/T-1001"
    assert producer.sent == [("trades", LIVE, b"T-1001:1:B-1")]


def test_a_batch_is_answered_once_every_late_acknowledgement_arrived() -> None:
    producer = LateAcks(partition=3, first_offset=7)
    with client_for(producer, **LATE_ACK_WAIT) as http:
        r = http.post("/trades/batch", json=[trade(0), trade(1, version=0), trade(2), trade(3)])
    producer.join()
    assert r.status_code == 200, r.text
    assert "retry-after" not in r.headers
    body = r.json()
    assert body["counts"] == {"accepted": 3, "rejected": 1, "failed": 0}
    accepted = [x for x in body["results"] if x["status"] == "accepted"]
    assert accepted == [
        {"index": 0, "status": "accepted", "partition": 3, "offset": 7},
        {"index": 2, "status": "accepted", "partition": 3, "offset": 8},
        {"index": 3, "status": "accepted", "partition": 3, "offset": 9},
    ]


def test_partition_zero_and_a_non_zero_offset_are_answered_as_acknowledged(extra: dict[str, str]) -> None:
    producer = Reports(lambda index: (None, FakeMessage(0, 7)))
    r = post_one(producer, extra)
    assert r.status_code == 201, r.text
    assert (r.json()["partition"], r.json()["offset"]) == (0, 7)


# --- never 2xx without an acknowledgement, and the client is told why -----------------------------------


def test_a_refused_delivery_is_503_even_though_the_report_carries_the_message(extra: dict[str, str]) -> None:
    """librdkafka hands the message to the delivery callback whether it was delivered or not: the
    error decides, and its text reaches the client."""
    producer = Reports(lambda index: (KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), FakeMessage(0, 3)))
    r = post_one(producer, extra)
    body = assert_problem(r, 503)
    assert body["detail"] == "broker did not acknowledge: Broker: Message size too large"
    assert r.headers["retry-after"] == "1"


def test_a_delivery_report_without_error_or_message_is_503(extra: dict[str, str]) -> None:
    body = assert_problem(post_one(Reports(lambda index: (None, None)), extra), 503)
    assert body["detail"] == "broker did not acknowledge: no delivery report"


def test_a_producer_that_refuses_the_first_record_is_503_with_its_reason(extra: dict[str, str]) -> None:
    r = post_one(FakeProducer("queue_full"), extra)
    body = assert_problem(r, 503)
    assert body["detail"] == "producer queue is full"  # the PublishUnavailable raised by send_many
    assert r.headers["retry-after"] == "1"


def test_batch_items_after_a_full_queue_are_failed_with_that_reason_the_queued_ones_accepted() -> None:
    producer = Reports(lambda index: (None, FakeMessage(2, 10 + index)), stop_after=2)
    with client_for(producer) as http:
        r = http.post("/trades/batch", json=[trade(0), trade(1), trade(2), trade(3, version=0), trade(4)])
    assert r.status_code == 200
    assert r.headers["retry-after"] == "1"
    body = r.json()
    assert body["counts"] == {"accepted": 2, "rejected": 1, "failed": 2}
    full = "producer queue is full; the broker is slow or unreachable"
    assert body["results"][0] == {"index": 0, "status": "accepted", "partition": 2, "offset": 10}
    assert body["results"][1] == {"index": 1, "status": "accepted", "partition": 2, "offset": 11}
    assert body["results"][2] == {"index": 2, "status": "failed", "reason": full, "retryable": True}
    assert body["results"][3]["status"] == "rejected"
    assert body["results"][4] == {"index": 4, "status": "failed", "reason": full, "retryable": True}
    assert [key for _, _, key in producer.sent] == [b"T-0:1:B-1", b"T-1:1:B-1"]


def test_batch_items_of_a_refused_batch_are_failed_with_the_producers_reason() -> None:
    with client_for(FakeProducer("queue_full")) as http:
        r = http.post("/trades/batch", json=[trade(0), trade(1, version=0), trade(2)])
    body = r.json()
    assert body["counts"] == {"accepted": 0, "rejected": 1, "failed": 2}
    failed = [x for x in body["results"] if x["status"] == "failed"]
    assert [(x["index"], x["reason"]) for x in failed] == [
        (0, "producer queue is full"),
        (2, "producer queue is full"),
    ]


def test_batch_reasons_name_the_refusal_and_the_missing_report() -> None:
    def report(index: int) -> tuple[Any, Any]:
        return (KafkaError(KafkaError._MSG_TIMED_OUT), FakeMessage(0, index)) if index == 0 else (None, None)

    with client_for(Reports(report)) as http:
        body = http.post("/trades/batch", json=[trade(0), trade(1)]).json()
    assert [(x["status"], x["reason"]) for x in body["results"]] == [
        ("failed", "broker did not acknowledge: Local: Message timed out"),
        ("failed", "broker did not acknowledge: no delivery report"),
    ]


# --- the matured-trade refusal (shared.rules.apply_maturity) as the client sees it -----------------------


def test_a_matured_trade_under_the_reject_policy_is_422_naming_field_dates_and_setting(
    extra: dict[str, str],
) -> None:
    matured = {**LIVE, "maturity_date": "2026-11-23"}  # the day before TODAY
    producer = FakeProducer()
    with client_for(producer, tradestore_matured_policy="reject") as http:
        r = http.post("/trades", content=orjson.dumps(matured), headers={**JSON, **extra})
        boundary = http.post(
            "/trades", content=orjson.dumps({**LIVE, "maturity_date": "2026-11-24"}), headers=JSON
        )
    body = assert_problem(r, 422)
    msg = (
        "trade matured on 2026-11-23, before today (2026-11-24); "
        "matured trades are refused (TRADESTORE_MATURED_POLICY=reject)"
    )
    assert body["errors"] == [{"loc": ["maturity_date"], "msg": msg, "type": "trade_matured"}]
    assert body["detail"] == f"the trade has invalid fields: maturity_date: {msg}"
    assert boundary.status_code == 201  # maturing today is not matured
    assert boundary.json()["expired"] is False
    assert [key for _, _, key in producer.sent] == [b"T-1001:1:B-1"]  # only the one maturing today
