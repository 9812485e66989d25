"""tradedata.publishing.publish and tradedata.service's one-record forms, without HTTP.

`publish` awaits every acknowledgement but no longer than it must: an answer that only comes when the
acknowledgement wait runs out (KAFKA_PUBLISH_TIMEOUT_S + 1 s) would pass every HTTP test with a fast
fake broker, at the cost of seconds per request in production. Here the wait is an hour and the call must
return at once once every record was acknowledged (a generous deadline turns a regression into a failure
instead of a hang).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future
from datetime import date
from typing import Any

import orjson
import pytest

from shared.errors import TradeRuleViolation
from shared.rules import MaturedPolicy
from shared.schema import SAMPLE_TRADE, TradePayload
from tradedata import service
from tradedata.publishing import Outcome, PublishOptions, Record, publish
from tradedata.service import accept, kafka_key, publish_trade
from unit.test_api_http import LIVE, FakeMessage

HOUR = 3600.0
DEADLINE_S = 10.0  # only so that a publish that waits out HOUR fails instead of hanging the run
TODAY = date(2026, 11, 24)


class Acking:
    """Acknowledges every record synchronously, from inside send_many, at partition 4 offsets 0, 1, ..."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, Any]] = []

    def send_many(
        self, topic: str, records: Iterable[tuple[str, bytes, bytes]], on_delivery: Any, headers: Any = None
    ) -> int:
        for index, (_, key, value) in enumerate(records):
            self.sent.append((topic, key, value, headers))
            on_delivery(index, None, FakeMessage(4, index))
        return len(self.sent)

    def broker_reachable(self, timeout_s: float = 2.0) -> bool:
        return True


def records(count: int) -> Iterator[tuple[int, Record]]:
    for n in range(count):
        trade_id = f"T-{n}"
        yield n * 2, Record(trade_id, kafka_key(trade_id, 1, "B-1"), orjson.dumps({"trade_id": trade_id}))


def run_publish(producer: Acking, items: Iterable[tuple[int, Record]], **options: Any) -> dict[int, Outcome]:
    async def bounded() -> dict[int, Outcome]:
        return await asyncio.wait_for(
            publish(producer, items, PublishOptions("trades", HOUR, **options)), DEADLINE_S
        )

    return asyncio.run(bounded())


@pytest.mark.parametrize("count", [1, 3])
def test_publish_returns_as_soon_as_every_record_is_acknowledged_not_at_the_ack_timeout(count: int) -> None:
    producer = Acking()
    outcomes = run_publish(producer, records(count))
    assert outcomes == {n * 2: Outcome("accepted", 4, n) for n in range(count)}
    assert [key for _, key, _, _ in producer.sent] == [f"T-{n}:1:B-1".encode() for n in range(count)]


def test_publish_of_nothing_returns_at_once_with_no_outcome() -> None:
    producer = Acking()
    assert run_publish(producer, iter(())) == {}
    assert producer.sent == []


class Silent(Acking):
    """Queues every record and never reports a delivery (a broker that stopped answering)."""

    def send_many(
        self, topic: str, records: Iterable[tuple[str, bytes, bytes]], on_delivery: Any, headers: Any = None
    ) -> int:
        self.sent += [(topic, key, value, headers) for _, key, value in records]
        return len(self.sent)


def test_records_never_acknowledged_are_failed_when_the_ack_wait_runs_out_naming_it() -> None:
    """The wait ends by itself (the client gets its 503 / `failed`), it does not last until an ack."""

    async def bounded() -> dict[int, Outcome]:
        options = PublishOptions("trades", 0.05)
        return await asyncio.wait_for(publish(Silent(), records(2), options), DEADLINE_S)

    failed = Outcome("failed", reason="broker did not acknowledge within 0.05s")
    assert asyncio.run(bounded()) == {0: failed, 2: failed}


def test_publish_puts_the_given_headers_on_every_record_of_the_topic() -> None:
    producer = Acking()
    headers = [("tradestore.principal", b"key-ops-1")]
    run_publish(producer, records(2), headers=headers)
    assert [(topic, h) for topic, _, _, h in producer.sent] == [("trades", headers), ("trades", headers)]


# --- publish_trade: the one-record form (seed producer test, tools) -------------------------------------


class Capturing:
    """Records each send() exactly as called."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, bytes, Any]] = []

    def send(
        self, topic: str, value: Mapping[str, object] | bytes, key: bytes, headers: Any = None
    ) -> Future[Any]:
        self.calls.append((topic, value, key, headers))
        return Future()


def test_publish_trade_hands_the_producer_the_trades_message_mapping_not_the_model() -> None:
    """TradeProducer.send serialises a mapping (or sends bytes): a TradePayload would not serialise."""
    trade = TradePayload.model_validate(SAMPLE_TRADE)
    producer = Capturing()
    publish_trade(producer, trade, principal="key-ops-1")
    [(topic, value, key, headers)] = producer.calls
    assert (topic, key) == ("trades", b"T-1001:1:B-1")
    assert type(value) is dict
    assert value == trade.to_message()
    assert headers == [("tradestore.principal", b"key-ops-1")]


def test_publish_trade_to_another_topic_with_a_mapping_sends_it_as_given() -> None:
    producer = Capturing()
    publish_trade(producer, SAMPLE_TRADE, topic="trades-replay", principal="sub-7")
    assert producer.calls == [
        ("trades-replay", SAMPLE_TRADE, b"T-1001:1:B-1", [("tradestore.principal", b"sub-7")])
    ]


# --- accept: the plainly valid case never builds the model (tradedata.fastpath) --------------------------


def test_a_plainly_valid_trade_is_accepted_without_building_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fast path is what single-POST throughput rests on (docs/performance.md): if it silently stopped
    being taken (say a model field added without it), every answer would still be right, only slower."""

    def model_built(*_: object, **__: object) -> TradePayload:
        raise AssertionError("accept built the model for a plainly valid trade")

    monkeypatch.setattr(service.TradePayload, "model_validate", model_built)
    record = accept(dict(LIVE), TODAY, MaturedPolicy.FLAG)
    assert isinstance(record, Record)
    assert record.key == b"T-1001:1:B-1"
    assert orjson.loads(record.value) == {**LIVE, "expired": False}


def test_accept_refuses_a_matured_trade_under_reject_with_the_rule_error() -> None:
    errors = accept({**LIVE, "maturity_date": "2026-01-15"}, TODAY, MaturedPolicy.REJECT)
    assert isinstance(errors, list)
    assert [e["type"] for e in errors] == ["trade_matured"]
    with pytest.raises(TradeRuleViolation):
        service.accept_trade(TradePayload.model_validate(SAMPLE_TRADE), TODAY, MaturedPolicy.REJECT)
