"""SqlStore.stored_origins on every SQL backend: the (partition, offset) each stored key came from."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.ports import StoredTrade
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.stores.sql import SqlStore


def test_stored_origins_name_the_record_each_key_was_written_from(sql_url: str) -> None:
    from shared.stores.sql.engine import make_engine

    sink = SqlStore(make_engine(sql_url))
    try:
        sink.setup()
        now = datetime(2026, 11, 24, tzinfo=UTC)
        trades = [TradePayload.model_validate({**SAMPLE_TRADE, "version": v}) for v in (1, 2)]
        sink.write([StoredTrade(t, 3, 40 + t.version, now) for t in trades])
        keys = {("T-1001", 1, "B-1"), ("T-1001", 2, "B-1"), ("X", 1, "B-1")}
        assert sink.stored_origins(keys) == {("T-1001", 1, "B-1"): (3, 41), ("T-1001", 2, "B-1"): (3, 42)}
        assert sink.stored_origins(set()) == {}
    finally:
        sink.close()
