"""Record headers TradeStore reads and writes (names in one place; values are UTF-8 bytes)."""

from __future__ import annotations

from collections.abc import Iterable

PRINCIPAL = "tradestore.principal"  # key id or token subject that submitted the trade (set by the API)

DLQ_REASON = "dlq.reason"  # why the record was dead-lettered (shared.consumer.batch.Reason)
DLQ_DETAIL = "dlq.detail"  # a human-readable detail (the store's reason for store_rejected)
DLQ_SINK = "dlq.sink"  # which sink refused it: mongo | sql
DLQ_TOPIC = "dlq.topic"  # where the original record was
DLQ_PARTITION = "dlq.partition"
DLQ_OFFSET = "dlq.offset"
DLQ_HEADERS = (DLQ_REASON, DLQ_DETAIL, DLQ_SINK, DLQ_TOPIC, DLQ_PARTITION, DLQ_OFFSET)

REDRIVE_OF = "redrive.of"  # topic:partition:offset of the dead letter a redriven record came from
REDRIVE_AT = "redrive.at"


def header_text(headers: Iterable[tuple[str, bytes | None]], name: str) -> str | None:
    """The last value of header `name`, decoded as UTF-8 (invalid bytes replaced), or None."""
    found: str | None = None
    for key, value in headers:
        if key == name and value is not None:
            found = value.decode(errors="replace")
    return found
