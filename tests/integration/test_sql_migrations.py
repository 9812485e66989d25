"""Alembic: a table in the pre-Alembic schema, with data, migrates to head on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from shared.ports import StoredTrade
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.stores.sql import SqlStore
from shared.stores.sql.engine import make_engine
from shared.stores.sql.migrate import head_revision, migrate

LEGACY_DDL = """CREATE TABLE trades (
    trade_id VARCHAR(64) NOT NULL, book_id VARCHAR(64) NOT NULL, counterparty_id VARCHAR(64) NOT NULL,
    version INTEGER NOT NULL, maturity_date DATE NOT NULL, created_date DATE NOT NULL,
    expired BOOLEAN NOT NULL, kafka_partition INTEGER NOT NULL, kafka_offset BIGINT NOT NULL,
    persisted_at TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT pk_trades PRIMARY KEY (trade_id, version, book_id))"""
LEGACY_ROWS = [
    ("T-1", "B-1", "CP-1", 1, date(2026, 1, 15), date(2025, 9, 28), False, 0, 10),
    ("T-1", "B-1", "CP-1", 2, date(2026, 1, 15), date(2025, 9, 28), True, 0, 11),
    ("t-1", "B-2", "CP-✓", 1, date(2027, 3, 1), date(2025, 9, 28), False, 3, 12),
    ("✓\U0001f600", "B-1", "CP-1", 1, date(2020, 1, 1), date(2019, 9, 28), False, 1, 13),
]
PERSISTED = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)


def create_legacy_table(engine: sa.Engine, with_index: bool) -> None:
    """The table as the pre-Alembic `tradestore migrate` left it (no alembic_version), holding data."""
    columns = "trade_id, book_id, counterparty_id, version, maturity_date, created_date, expired, "
    columns += "kafka_partition, kafka_offset, persisted_at"
    with engine.begin() as conn:
        conn.execute(sa.text(LEGACY_DDL))
        if with_index:
            conn.execute(sa.text("CREATE INDEX ix_trades_trade_id_version ON trades (trade_id, version)"))
        for row in LEGACY_ROWS:
            values = dict(zip(columns.split(", "), (*row, PERSISTED), strict=True))
            conn.execute(sa.text(f"INSERT INTO trades ({columns}) VALUES (:{', :'.join(values)})"), values)  # noqa: S608


def test_a_legacy_table_with_data_is_stamped_then_upgraded_and_keeps_every_row(local_sql_url: str) -> None:
    engine = make_engine(local_sql_url)
    try:
        create_legacy_table(engine, with_index=True)
        assert migrate(engine, timeout_s=10) == ["0002"]
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT * FROM trades ORDER BY kafka_offset")).mappings().all()
            assert (
                conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
                == head_revision()
            )
        assert [(r["trade_id"], r["version"], r["book_id"], r["counterparty_id"]) for r in rows] == [
            (r[0], r[3], r[1], r[2]) for r in LEGACY_ROWS
        ]
        assert [bool(r["expired"]) for r in rows] == [r[6] for r in LEGACY_ROWS]
        assert [r["principal"] for r in rows] == [None] * len(LEGACY_ROWS)
        inspector = sa.inspect(engine)
        assert {ix["name"] for ix in inspector.get_indexes("trades")} == {"ix_trades_expiry"}
        if engine.dialect.name == "postgresql":
            collations = {
                c["name"]: getattr(c["type"], "collation", None) for c in inspector.get_columns("trades")
            }
            assert collations["trade_id"] == collations["book_id"] == "C"
        store = SqlStore(engine)
        assert store.max_versions(["T-1", "t-1"]) == {"T-1": 2, "t-1": 1}
        payload = TradePayload.model_validate({**SAMPLE_TRADE, "trade_id": "T-1", "version": 3})
        assert store.write([StoredTrade(payload, 0, 14, PERSISTED, "key-1")]).written == 1
        assert store.versions("T-1")[0].principal == "key-1"
        assert migrate(engine, timeout_s=10) == []
    finally:
        engine.dispose()


def test_a_legacy_table_missing_the_reported_index_still_reaches_head(local_sql_url: str) -> None:
    """The old migrate reported ix_trades_trade_id_version on existing tables without creating it."""
    engine = make_engine(local_sql_url)
    try:
        create_legacy_table(engine, with_index=False)
        assert migrate(engine, timeout_s=10) == ["0002"]
        assert {ix["name"] for ix in sa.inspect(engine).get_indexes("trades")} == {"ix_trades_expiry"}
    finally:
        engine.dispose()
