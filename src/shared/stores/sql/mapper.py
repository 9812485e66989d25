"""StoredTrade -> table row: the only place that knows how a trade becomes SQL column values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TypedDict

import sqlalchemy as sa

from shared.ports import Key, StoredTrade
from shared.schema import TradePayload
from shared.stores.sql.schema import TRADE_COLUMNS


class TradeRow(TypedDict):
    """One row of `trades`, keyed by column name (see shared.stores.sql.schema.COLUMNS)."""

    trade_id: str
    book_id: str
    counterparty_id: str
    version: int
    maturity_date: date
    created_date: date
    expired: bool
    kafka_partition: int
    kafka_offset: int
    persisted_at: datetime
    principal: str | None


def to_row(record: StoredTrade) -> TradeRow:
    """The column values of one stored trade."""
    trade = record.trade
    return TradeRow(
        trade_id=trade.trade_id,
        book_id=trade.book_id,
        counterparty_id=trade.counterparty_id,
        version=trade.version,
        maturity_date=trade.maturity_date,
        created_date=trade.created_date,
        expired=trade.expired,
        kafka_partition=record.partition,
        kafka_offset=record.offset,
        persisted_at=record.persisted_at,
        principal=record.principal,
    )


def row_key(row: Mapping[str, object]) -> Key:
    return (str(row["trade_id"]), int(str(row["version"])), str(row["book_id"]))


def to_rows(records: Iterable[StoredTrade]) -> list[TradeRow]:
    """Rows of a batch, one per key (the last occurrence wins), sorted by key in code-point order.

    A key twice in one statement is an error on every engine (PostgreSQL: "ON CONFLICT DO UPDATE
    command cannot affect row a second time"; SQL Server 8672). Sorted rows make concurrent writers
    take row locks in the same order, so two consumers do not deadlock on one another (item 11).
    """
    latest: dict[Key, TradeRow] = {}
    for record in records:
        row = to_row(record)
        latest[row_key(row)] = row
    return [latest[key] for key in sorted(latest)]


def chunks(rows: Sequence[TradeRow], size: int) -> list[Sequence[TradeRow]]:
    """Split rows so that no statement exceeds the driver's parameter limit."""
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def json_row(row: TradeRow) -> dict[str, object]:
    """A row as JSON values for SQL Server's OPENJSON (dates and timestamps as ISO 8601 text)."""
    out: dict[str, object] = dict(row)
    for name in ("maturity_date", "created_date", "persisted_at"):
        out[name] = row[name].isoformat()
    return out


def to_stored(row: sa.RowMapping) -> StoredTrade:
    """A table row read back as the StoredTrade the ports return."""
    trade = TradePayload.model_validate(
        {name: row[name] for name in TRADE_COLUMNS} | {"expired": bool(row["expired"])}
    )
    persisted = row["persisted_at"]
    if not isinstance(persisted, datetime):
        raise TypeError(f"persisted_at read back as {type(persisted).__name__}, not a datetime")
    if persisted.tzinfo is None:  # SQLite returns naive values of a timezone-aware column
        persisted = persisted.replace(tzinfo=UTC)
    principal = row.get("principal")
    return StoredTrade(
        trade,
        int(str(row["kafka_partition"])),
        int(str(row["kafka_offset"])),
        persisted,
        principal if isinstance(principal, str) else None,
    )
