"""SqlStore without a database server: what each operation says when the database cannot be opened (the
action an operator reads), the statement limit per dialect, the settings it takes, and what needs no
database at all (an empty batch). SQLite files only; SQL Server engines are created, never connected."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.errors import StoreUnavailable
from shared.ports import StoredTrade, TradeFilter, WriteResult
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.settings import Settings
from shared.stores.sql import SqlStore
from shared.stores.sql.engine import make_engine
from shared.stores.sql.schema import COLUMNS
from shared.stores.sql.statements import MSSQL_ROWS_PER_STATEMENT, OTHER_MAX_PARAMS

RECORD = StoredTrade(TradePayload.model_validate(SAMPLE_TRADE), 0, 1, datetime(2026, 11, 30, tzinfo=UTC))

OPERATIONS: list[tuple[str, Callable[[SqlStore], object]]] = [
    ("pinging", lambda s: s.ping()),
    ("reading max versions", lambda s: s.max_versions(["T-1"])),
    ("reading stored origins", lambda s: s.stored_origins({("T-1", 1, "B-1")})),
    ("writing trades", lambda s: s.write([RECORD])),
    ("counting trades", lambda s: s.count()),
    ("reading a trade", lambda s: s.versions("T-1")),
    ("listing trades", lambda s: s.find(TradeFilter(), 10, 0)),
    ("summarising trades", lambda s: s.summary()),
    ("reading trades", lambda s: list(s.iter_trades())),
    ("expiring trades", lambda s: s.expire(date(2027, 1, 1))),
]


@pytest.mark.parametrize(("action", "operation"), OPERATIONS, ids=[a for a, _ in OPERATIONS])
def test_a_database_that_cannot_be_opened_is_store_unavailable_naming_the_operation(
    tmp_path: Path, action: str, operation: Callable[[SqlStore], object]
) -> None:
    store = SqlStore(make_engine(f"sqlite:///{tmp_path}"))  # a directory: SQLite cannot open it
    try:
        with pytest.raises(StoreUnavailable) as err:
            operation(store)
    finally:
        store.close()
    assert (
        str(err.value)
        == f"SQL store sqlite:///{tmp_path} unavailable while {action}: unable to open database file"
    )


def test_an_empty_batch_is_written_without_a_database(tmp_path: Path) -> None:
    store = SqlStore(make_engine(f"sqlite:///{tmp_path}"))
    assert store.write([]) == WriteResult(written=0)
    store.close()


def test_a_sql_server_store_writes_at_most_1000_rows_per_statement_others_up_to_the_parameter_limit() -> None:
    mssql = SqlStore(sa.create_engine("mssql+pymssql://sa:pw@db:1433/tradestore"))
    assert mssql.chunk_rows == MSSQL_ROWS_PER_STATEMENT == 1000
    assert SqlStore(sa.create_engine("mssql+pymssql://sa:pw@db:1433/t"), chunk_rows=5000).chunk_rows == 1000
    sqlite = SqlStore(sa.create_engine("sqlite://"))
    assert sqlite.chunk_rows == OTHER_MAX_PARAMS // len(COLUMNS) > 1000
    assert SqlStore(sa.create_engine("sqlite://"), chunk_rows=64).chunk_rows == 64
    assert sqlite.expire_batch_rows == 4000  # SQL_EXPIRE_BATCH_ROWS' default


def test_from_settings_takes_the_expiry_batch_and_the_lock_timeout(tmp_path: Path) -> None:
    settings = Settings(
        sql_url=f"sqlite:///{tmp_path / 'trades.sqlite'}",  # type: ignore[arg-type]
        sql_expire_batch_rows=7,
        sql_lock_timeout_s=2.5,
    )
    store = SqlStore.from_settings(settings)
    try:
        assert store.expire_batch_rows == 7
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA busy_timeout")).scalar_one() == 2500  # SQL_LOCK_TIMEOUT_S
    finally:
        store.close()


def test_max_versions_reads_the_highest_version_per_id_through_driver_parameters(tmp_path: Path) -> None:
    """SQLite and PostgreSQL look versions up with driver parameters (SQL Server keeps its IN list): the
    highest version of each asked id, nothing for ids not asked or not stored, ids compared exactly."""
    from shared.stores.sql import queries

    assert queries.max_versions_driver_sql("mssql", 3) is None
    assert "= ANY(%s)" in (queries.max_versions_driver_sql("postgresql", 3) or "")
    assert (queries.max_versions_driver_sql("sqlite", 3) or "").count("?") == 3
    store = SqlStore(make_engine(f"sqlite:///{tmp_path / 'v.db'}"))
    store.setup()

    def rec(trade_id: str, version: int) -> StoredTrade:
        trade = TradePayload.model_validate({**SAMPLE_TRADE, "trade_id": trade_id, "version": version})
        return StoredTrade(trade, 0, version, RECORD.persisted_at)

    store.write([rec("A", 1), rec("A", 3), rec("A", 2), rec("a", 5), rec("B", 4), rec("C", 7)])
    assert store.max_versions(["A", "a", "B", "Z"]) == {"A": 3, "a": 5, "B": 4}
    store.close()
