"""Until helper B's shared.stores.sql lands: the old SQL sink and reader behind the ports (temporary).

Delete this module when shared.stores.sql.SqlStore exists and shared.stores.open_store opens it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import date

from kafkaconsumermssql.engine import store_errors
from kafkaconsumermssql.reader import SqlReader
from kafkaconsumermssql.sink import SqlSink
from shared.ports import Key, StoredTrade, StoreSummary, TradeFilter, WriteResult
from shared.schema import TradePayload
from shared.settings import Settings
from shared.stores.records import latest_per_key


class LegacySqlStore:
    name = "sql"

    def __init__(self, sink: SqlSink) -> None:
        self.sink = sink
        self.reader = SqlReader(sink.engine)

    @classmethod
    def from_settings(cls, settings: Settings) -> LegacySqlStore:
        return cls(SqlSink.from_settings(settings))

    def setup(self) -> None:
        self.sink.setup()

    def ping(self) -> None:
        self.sink.ping()

    def max_versions(self, trade_ids: Collection[str]) -> dict[str, int]:
        return self.sink.max_versions(trade_ids)

    def stored_origins(self, keys: Collection[Key]) -> dict[Key, tuple[int, int]]:
        return self.sink.stored_origins(keys)

    def write(self, records: Sequence[StoredTrade]) -> WriteResult:
        batch = latest_per_key(records)
        self.sink.upsert(batch)
        return WriteResult(written=len(batch))

    def versions(self, trade_id: str) -> list[StoredTrade]:
        raise NotImplementedError("SQL reads for the API arrive with shared.stores.sql")

    def find(self, filters: TradeFilter, limit: int, offset: int) -> tuple[list[StoredTrade], int]:
        raise NotImplementedError("SQL reads for the API arrive with shared.stores.sql")

    def summary(self, prefix: str = "") -> StoreSummary:
        with store_errors(self.sink.engine, "summarising"):
            return self.reader.summary(prefix)

    def iter_trades(self, prefix: str = "") -> Iterator[TradePayload]:
        with store_errors(self.sink.engine, "reading trades"):
            yield from self.reader.iter_trades(prefix)

    def expire(self, today: date) -> int:
        with store_errors(self.sink.engine, "expiring trades"):
            return self.reader.expire(today)

    def close(self) -> None:
        self.sink.close()
