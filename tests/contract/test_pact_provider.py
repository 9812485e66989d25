"""Provider side of the `trades` pacts: what `tradedata.service.publish_trade` really hands the producer
(captured at `producer.send`, as the seed test 7.2 fixes it) must satisfy both consumers' committed pacts.

A broken producer path fails here with the consumer and the field named: the tests at the bottom break the
provider's output on purpose and read the failure text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from fixtures import pacts
from shared.rules import MaturedPolicy
from shared.schema import SAMPLE_TRADE, TradePayload
from tradedata.service import accept_trade, publish_trade

TODAY = date(2025, 10, 1)
Mutation = Callable[[dict[str, Any]], dict[str, Any]]


def publish_path(mutate: Mutation | None = None) -> pacts.Produce:
    """The Pact message for the record publish_trade sends for an accepted trade, submitted by `principal`."""

    def produce(principal: str | None) -> dict[str, Any]:
        producer = pacts.CapturingProducer(mutate=mutate)
        trade = accept_trade(TradePayload.model_validate(SAMPLE_TRADE), TODAY, MaturedPolicy.FLAG)
        if principal is None:
            publish_trade(producer, trade)
        else:
            publish_trade(producer, trade, principal=principal)
        [record] = producer.sent
        return pacts.as_message(record)

    return produce


@pytest.mark.parametrize("consumer", pacts.CONSUMERS)
def test_publish_trade_satisfies_the_consumer_pact(consumer: str) -> None:
    assert pacts.verify_provider(consumer, publish_path()) == []


@pytest.mark.parametrize("principal", [None, "key-ops-1"])
def test_publish_trade_sends_no_field_a_consumer_would_refuse(principal: str | None) -> None:
    message = publish_path()(principal)
    assert [line for c in pacts.CONSUMERS for line in pacts.undeclared_fields(c, message)] == []


def _rename(old: str, new: str) -> Mutation:
    def mutate(value: dict[str, Any]) -> dict[str, Any]:
        value[new] = value.pop(old)
        return value

    return mutate


@pytest.mark.parametrize("consumer", pacts.CONSUMERS)
def test_renaming_a_field_in_the_producer_breaks_the_pact_naming_consumer_and_field(consumer: str) -> None:
    problems = pacts.verify_provider(consumer, publish_path(_rename("book_id", "book")))
    assert problems, "a producer that renames book_id must fail the pact"
    assert all(line.startswith(f"consumer {consumer!r}, message ") for line in problems)
    assert any("book_id" in line for line in problems), problems


@pytest.mark.parametrize("consumer", pacts.CONSUMERS)
def test_a_version_sent_as_text_breaks_the_pact_at_that_field(consumer: str) -> None:
    def as_text(value: dict[str, Any]) -> dict[str, Any]:
        return {**value, "version": str(value["version"])}

    problems = pacts.verify_provider(consumer, publish_path(as_text))
    assert any("$.version" in line and "integer" in line for line in problems), problems


def test_a_key_in_another_format_breaks_both_pacts() -> None:
    def produce(principal: str | None) -> dict[str, Any]:
        message = publish_path()(principal)
        message["metadata"]["key"] = message["metadata"]["key"].replace(":", "/")
        return message

    for consumer in pacts.CONSUMERS:
        problems = pacts.verify_provider(consumer, produce)
        assert any(f"consumer {consumer!r}" in line and "header 'key'" in line for line in problems), problems


def test_a_record_without_the_provenance_header_breaks_both_pacts() -> None:
    def produce(principal: str | None) -> dict[str, Any]:
        return publish_path()(None)  # published as if no principal had submitted it

    for consumer in pacts.CONSUMERS:
        problems = pacts.verify_provider(consumer, produce, only=pacts.WITH_PRINCIPAL)
        assert problems == [
            f"consumer {consumer!r}, message {pacts.WITH_PRINCIPAL!r}: header 'tradestore.principal': "
            "Expected message metadata 'tradestore.principal' but was missing"
        ]


def test_an_identifier_too_long_for_the_sql_columns_breaks_only_the_sql_pact() -> None:
    def long_book(value: dict[str, Any]) -> dict[str, Any]:
        return {**value, "book_id": "B" * 65}

    assert pacts.verify_provider("kafkaconsumer", publish_path(long_book)) == []
    problems = pacts.verify_provider("kafkaconsumermssql", publish_path(long_book))
    assert any("$.book_id" in line for line in problems), problems


def test_a_field_no_consumer_declared_is_reported_for_each_consumer() -> None:
    def with_desk(value: dict[str, Any]) -> dict[str, Any]:
        return {**value, "desk": "rates"}

    message = publish_path(with_desk)(None)
    assert pacts.undeclared_fields("kafkaconsumermssql", message) == [
        "consumer 'kafkaconsumermssql': value field 'desk' is not in its pact (it refuses unknown fields)"
    ]
