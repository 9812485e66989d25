"""Records of a topic as the operator tools show them, read through shared.kafka.read_until.

A whole topic is read from offset 0 with assign() (no group join) until nothing arrives for `idle_s`,
bounded by a deadline: Tansu's reported high watermarks can lag what is readable, so the read goes by
idleness, never up to the watermarks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import KafkaException

from shared.kafka import TopicRecord, client_config, read_until
from shared.kafka.headers import header_text
from shared.settings import Settings


class BrokerUnavailable(RuntimeError):
    """The broker did not answer a metadata or fetch request in time."""


@dataclass(frozen=True)
class KafkaRecord:
    """One record as plain values, with what the tools print: its position, time and headers as text."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int | None

    @classmethod
    def of(cls, record: TopicRecord) -> KafkaRecord:
        headers = tuple(record.headers.items())
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
            headers,
            record.timestamp_ms,
        )

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def time(self) -> datetime | None:
        return None if self.timestamp_ms is None else datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    def header(self, name: str) -> str | None:
        """The last value of header `name` as text (None when absent)."""
        return header_text(self.headers, name)


def read_topic(
    settings: Settings, topic: str, idle_s: float = 1.0, deadline_s: float = 20.0
) -> list[KafkaRecord]:
    """Every record of `topic` (none when it does not exist), in the order read."""
    config = {**client_config(settings, "tradestore-ops"), "logger": logging.getLogger("librdkafka")}
    try:
        records = read_until(config, topic, idle_s=idle_s, deadline_s=deadline_s)
    except KafkaException as exc:
        raise BrokerUnavailable(f"broker unreachable: {exc.args[0].str()}") from None
    return [KafkaRecord.of(r) for r in records]
