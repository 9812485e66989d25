"""The one ingest service (Ingest): `accept` turns one submitted item into its Kafka record (or its field
errors), `publish` queues records and awaits every broker acknowledgement (tradedata.publishing).
POST /trades and POST /trades/batch both go through it; a single POST is a batch of one.

`publish_trade` is the one-record form (the seed's producer test, tools): the same key, value and
provenance header as `accept` + `publish` put on the topic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from datetime import date

import orjson
from pydantic import ValidationError

from shared.errors import TradeRuleViolation
from shared.kafka import Delivery
from shared.kafka.headers import PRINCIPAL
from shared.rules import MaturedPolicy, apply_maturity, validate_trade
from shared.schema import TradePayload, record_key
from shared.settings import Settings
from tradedata.fastpath import plain_value
from tradedata.problems import field_errors_from_validation
from tradedata.publishing import (
    Headers,
    Outcome,
    Published,
    Publisher,
    PublishOptions,
    Record,
    Sender,
    publish,
    publish_all,
)

__all__ = [
    "Ingest",
    "Outcome",
    "Published",
    "Publisher",
    "Record",
    "accept",
    "kafka_key",
    "publish_trade",
    "trade_key",
]

TRADES_TOPIC = "trades"
PRINCIPAL_HEADER = PRINCIPAL  # key id or token subject that submitted the record

TradeLike = Mapping[str, object] | TradePayload


kafka_key = record_key  # `trade_id:version:book_id`, UTF-8 (shared.schema: the one place it is built)


def trade_key(trade: TradeLike) -> bytes:
    if isinstance(trade, TradePayload):
        return kafka_key(trade.trade_id, trade.version, trade.book_id)
    return kafka_key(str(trade["trade_id"]), trade["version"], str(trade["book_id"]))


def record_headers(principal: str | None) -> Headers | None:
    """The provenance header of a record submitted by `principal` (none when auth is off)."""
    return None if principal is None else [(PRINCIPAL_HEADER, principal.encode())]


def publish_trade(
    producer: Sender, trade: TradeLike, topic: str = TRADES_TOPIC, principal: str | None = None
) -> Future[Delivery]:
    """Send one trade; returns the producer's Future of the broker's acknowledgement."""
    value = trade.to_message() if isinstance(trade, TradePayload) else trade
    headers = record_headers(principal)
    if headers is None:
        return producer.send(topic, value=value, key=trade_key(trade))
    return producer.send(topic, value=value, key=trade_key(trade), headers=headers)


def accept_trade(trade: TradePayload, today: date, policy: MaturedPolicy) -> TradePayload:
    """The trade as it will be published: expired follows the maturity date (or the trade is refused)."""
    return apply_maturity(trade, today, policy)


def accept(data: object, today: date, policy: MaturedPolicy) -> Record | list[dict[str, object]]:
    """The record of an acceptable trade (TradePayload + the trade rules), else every field error.

    The common plainly-valid case takes tradedata.fastpath (proven equal to the model by a property test).
    """
    if isinstance(data, dict) and (value := plain_value(data, today, policy)) is not None:
        trade_id = data["trade_id"]
        return Record(trade_id, kafka_key(trade_id, data["version"], data["book_id"]), value)
    try:
        trade = validate_trade(TradePayload.model_validate(data), today, policy)
    except ValidationError as exc:
        return [e.as_dict() for e in field_errors_from_validation(exc)]
    except TradeRuleViolation as exc:
        return [e.as_dict() for e in exc.errors]
    return Record(trade.trade_id, trade_key(trade), orjson.dumps(trade.to_message()))


class Ingest:
    """The ingest service the write routes call: check items into records, publish them, await the acks.

    Built by the composition root once the producer exists; injected as one dependency (IngestDep).
    """

    def __init__(self, producer: Publisher, settings: Settings, clock: Callable[[], date]) -> None:
        self.producer = producer
        self.settings = settings
        self.clock = clock
        self.topic = settings.trades_topic
        self.policy = settings.tradestore_matured_policy
        self._ack_timeout_s = settings.kafka_publish_timeout_s + 1  # the producer's own timeout + 1 s

    def accept(self, data: object, today: date) -> Record | list[dict[str, object]]:
        return accept(data, today, self.policy)

    async def publish(
        self, records: Iterable[tuple[int, Record]], principal: str | None
    ) -> dict[int, Outcome]:
        """Publish `records` (index, record) submitted by `principal`; an outcome per index."""
        return await publish(self.producer, records, self._options(principal))

    async def publish_all(self, records: Iterable[tuple[int, Record]], principal: str | None) -> Published:
        """The same, as positions and delivery reports (a large batch reads them without an Outcome each)."""
        return await publish_all(self.producer, records, self._options(principal))

    def _options(self, principal: str | None) -> PublishOptions:
        return PublishOptions(self.topic, self._ack_timeout_s, record_headers(principal))
