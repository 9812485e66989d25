"""Consumer side of the `trades` pacts: each consumer declares the record it needs and proves, with the pact's
example message, that its real decoding path (the shared consumer decode, then its store mapping) accepts it.

The generated pact must equal the committed one (contracts/pacts/); after a deliberate change regenerate with
`TRADESTORE_WRITE_PACTS=1 pytest tests/contract/test_pact_consumers.py` and commit the files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from fixtures import pacts
from shared.consumer.batch import decode_batch, plan_writes
from shared.consumer.runtime import to_inbound
from shared.ports import StoredTrade
from shared.stores.mongo_mapping import to_document
from shared.stores.sql.mapper import to_row

TODAY = date(2025, 10, 1)  # before the example's maturity: the consumer's own expiry keeps expired=false
NOW = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class PolledRecord:
    """What confluent_kafka's Consumer.poll() hands the runtime, built from a Pact message."""

    body: bytes
    metadata: dict[str, object]

    def topic(self) -> str:
        return str(self.metadata["kafka_topic"])

    def partition(self) -> int:
        return 3

    def offset(self) -> int:
        return 41

    def key(self) -> bytes:
        return str(self.metadata["key"]).encode()

    def value(self) -> bytes:
        return self.body

    def headers(self) -> list[tuple[str, bytes]]:
        reserved = {"kafka_topic", "key", "contentType"}
        return [(k, str(v).encode()) for k, v in self.metadata.items() if k not in reserved]


def consume(body: str | bytes | None, metadata: dict[str, object]) -> StoredTrade:
    """The consumer pipeline on one polled record (decode, then the version rule's plan against an empty
    store): the record it hands its store, provenance included."""
    raw = body.encode() if isinstance(body, str) else bytes(body or b"")
    decoded = decode_batch([to_inbound(PolledRecord(raw, metadata))], TODAY)
    if decoded.dead:
        letter = decoded.dead[0]
        raise AssertionError(
            f"the consumer dead-letters the pact's message: {letter.reason}: {letter.detail}"
        )
    [stored] = plan_writes(decoded.trades, {}, NOW).writes
    assert stored.principal == metadata.get(pacts.PRINCIPAL_HEADER)
    return stored


def mongo_handler(body: str | bytes | None, metadata: dict[str, object]) -> None:
    document = to_document(consume(body, metadata))
    sent = json.loads(body or b"")
    assert {name: document[name] for name in sent} == sent
    assert (document["partition"], document["offset"]) == (3, 41)
    assert document["principal"] == metadata.get(pacts.PRINCIPAL_HEADER)


def sql_handler(body: str | bytes | None, metadata: dict[str, object]) -> None:
    row: dict[str, Any] = dict(to_row(consume(body, metadata)))
    sent = json.loads(body or b"")
    for name in ("maturity_date", "created_date"):
        row[name] = row[name].isoformat()
    assert {name: row[name] for name in sent} == sent
    assert (row["kafka_partition"], row["kafka_offset"]) == (3, 41)
    assert row["principal"] == metadata.get(pacts.PRINCIPAL_HEADER)


HANDLERS: dict[str, Callable[[str | bytes | None, dict[str, object]], None]] = {
    "kafkaconsumer": mongo_handler,
    "kafkaconsumermssql": sql_handler,
}


@pytest.mark.parametrize("consumer", pacts.CONSUMERS)
def test_consumer_decodes_and_maps_the_record_its_pact_declares(consumer: str, tmp_path: Path) -> None:
    pact = pacts.declare(consumer)
    pact.verify(HANDLERS[consumer], "Async")  # raises PactVerificationError naming the failed message
    pact.write_file(tmp_path, overwrite=True)
    generated = json.loads((tmp_path / pacts.pact_file(consumer).name).read_text())
    committed_path = pacts.pact_file(consumer)
    if os.environ.get("TRADESTORE_WRITE_PACTS") == "1":
        committed_path.parent.mkdir(parents=True, exist_ok=True)
        committed_path.write_text(json.dumps(generated, indent=2, sort_keys=True) + "\n")
    committed = json.loads(committed_path.read_text())
    assert pacts.comparable(committed) == pacts.comparable(generated), (
        f"{committed_path} is out of date: TRADESTORE_WRITE_PACTS=1 pytest {__file__}"
    )


@pytest.mark.parametrize("consumer", pacts.CONSUMERS)
def test_consumer_pact_declares_key_value_and_provenance_header(consumer: str) -> None:
    committed = json.loads(pacts.pact_file(consumer).read_text())
    assert (committed["consumer"]["name"], committed["provider"]["name"]) == (consumer, "tradedata")
    by_description = {i["description"]: i for i in committed["interactions"]}
    assert set(by_description) == {pacts.WITH_PRINCIPAL, pacts.WITHOUT_PRINCIPAL}
    signed = by_description[pacts.WITH_PRINCIPAL]
    assert signed["metadata"][pacts.PRINCIPAL_HEADER] == pacts.EXAMPLE_PRINCIPAL
    assert pacts.PRINCIPAL_HEADER not in by_description[pacts.WITHOUT_PRINCIPAL]["metadata"]
    assert signed["matchingRules"]["metadata"]["key"]["matchers"] == [
        {"match": "regex", "regex": pacts.KEY_PATTERN}
    ]
    assert set(signed["contents"]["content"]) == set(pacts.EXAMPLE_VALUE)
    assert signed["matchingRules"]["body"]["$.version"]["matchers"] == [{"match": "integer"}]


def test_a_message_the_consumer_cannot_decode_fails_its_pact() -> None:
    pact = pacts.declare("kafkaconsumer")

    def wrong_key(body: str | bytes | None, metadata: dict[str, object]) -> None:
        mongo_handler(body, {**metadata, "key": "T-1001:9:B-1"})

    errors = pact.verify(wrong_key, "Async", raises=False)
    assert len(errors) == 2
    assert "key_mismatch" in str(errors[0])
