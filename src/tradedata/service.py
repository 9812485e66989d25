"""The TradeData use case: accept a validated trade and publish it keyed `trade_id:version:book_id`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Protocol

from shared.rules import MaturedPolicy, apply_maturity
from shared.schema import TradePayload

TRADES_TOPIC = "trades"


class Sender(Protocol):
    """What publish_trade needs: shared.kafka.TradeProducer, or a mock in unit tests."""

    def send(self, topic: str, value: Any, key: bytes) -> Any: ...


def trade_key(trade: Mapping[str, Any] | TradePayload) -> bytes:
    """`trade_id:version:book_id`, UTF-8."""
    if isinstance(trade, TradePayload):
        return trade.kafka_key()
    return f"{trade['trade_id']}:{trade['version']}:{trade['book_id']}".encode()


def publish_trade(
    producer: Sender, trade: Mapping[str, Any] | TradePayload, topic: str = TRADES_TOPIC
) -> Any:
    """Send one trade; returns what the producer returns (a Future of the broker's acknowledgement)."""
    value = trade.to_message() if isinstance(trade, TradePayload) else trade
    return producer.send(topic, value=value, key=trade_key(trade))


def accept_trade(trade: TradePayload, today: date, policy: MaturedPolicy) -> TradePayload:
    """The trade as it will be published: expired follows the maturity date (or the trade is refused)."""
    return apply_maturity(trade, today, policy)
