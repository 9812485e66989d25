"""StoredTrade -> table row: the only place that knows how a trade becomes SQL column values."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TypedDict

from shared.ports import StoredTrade


class TradeRow(TypedDict):
    """One row of `trades`, keyed by column name (see kafkaconsumermssql.schema.COLUMNS)."""

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
    )


def row_key(row: TradeRow) -> tuple[str, int, str]:
    return (row["trade_id"], row["version"], row["book_id"])


def to_rows(records: Iterable[StoredTrade]) -> list[TradeRow]:
    """Rows of a batch, one per key, the last occurrence winning (the same key overrides).

    A key twice in one statement is an error on both engines (PostgreSQL: "ON CONFLICT DO UPDATE
    command cannot affect row a second time"; SQL Server: MERGE updating one row twice).
    """
    latest: dict[tuple[str, int, str], TradeRow] = {}
    for record in records:
        row = to_row(record)
        key = row_key(row)
        latest.pop(key, None)  # re-insert so the surviving row keeps its latest position
        latest[key] = row
    return list(latest.values())


def chunks(rows: Sequence[TradeRow], size: int) -> list[Sequence[TradeRow]]:
    """Split rows so that no statement exceeds the driver's parameter limit."""
    return [rows[i : i + size] for i in range(0, len(rows), size)]
