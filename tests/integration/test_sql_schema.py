"""Migrations/DDL checks as tests: the live schema read back with SQLAlchemy's inspector, on every backend."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa

from shared.stores.sql.engine import make_engine
from shared.stores.sql.migrate import migrate
from shared.stores.sql.schema import trades_table

EXPECTED_TYPES = {
    "trade_id": (sa.String, 64),
    "book_id": (sa.String, 64),
    "counterparty_id": (sa.String, 64),
    "version": (sa.Integer, None),
    "maturity_date": (sa.Date, None),
    "created_date": (sa.Date, None),
    "expired": (sa.Boolean, None),
    "kafka_partition": (sa.Integer, None),
    "kafka_offset": (sa.Integer, None),  # BIGINT is an Integer subclass
    "persisted_at": (sa.DateTime, None),
    "principal": (sa.String, 256),
}
ID_LENGTH = {"mssql": 128, "postgresql": 64, "sqlite": 64}  # SQL Server counts UTF-16 units


def test_migrate_upgrades_to_head_and_the_live_schema_matches_the_table(sql_url: str) -> None:
    engine = make_engine(sql_url)
    try:
        table = trades_table(engine.dialect.name)
        assert migrate(engine, timeout_s=10) == ["0001", "0002"]
        assert migrate(engine, timeout_s=10) == []
        inspector = sa.inspect(engine)
        columns = {c["name"]: c for c in inspector.get_columns(table.name, schema=table.schema)}
        assert list(columns) == list(EXPECTED_TYPES) == [c.name for c in table.columns]
        for name, (kind, length) in EXPECTED_TYPES.items():
            col_type = columns[name]["type"]
            if engine.dialect.name == "sqlite" and kind is sa.Boolean:
                kind = sa.Boolean | sa.Integer  # type: ignore[assignment]  # SQLite reflects BOOLEAN as-is
            assert isinstance(col_type, kind), (name, col_type)
            if length == 64:
                length = ID_LENGTH[engine.dialect.name]
            if length is not None:
                assert col_type.length == length, name
            assert columns[name]["nullable"] is (name == "principal"), name
        if engine.dialect.name == "postgresql":
            assert {columns[n]["type"].collation for n in ("trade_id", "book_id", "counterparty_id")} == {"C"}
        pk = inspector.get_pk_constraint(table.name, schema=table.schema)
        assert pk["constrained_columns"] == ["trade_id", "version", "book_id"]
        indexes = {
            ix["name"]: ix["column_names"] for ix in inspector.get_indexes(table.name, schema=table.schema)
        }
        assert indexes == {"ix_trades_expiry": ["maturity_date"]}  # the PK's prefix serves version lookups
    finally:
        engine.dispose()


def run_migrate(sql_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradestore.cli", "migrate", *args],
        env={"SQL_URL": sql_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_tradestore_migrate_run_twice_creates_then_reports_up_to_date(sql_url: str) -> None:
    first = run_migrate(sql_url, "--timeout", "20")
    assert first.returncode == 0, first.stderr
    assert "migrate: upgraded" in first.stdout
    assert "(applied 0001, 0002)" in first.stdout
    second = run_migrate(sql_url, "--timeout", "20")
    assert second.returncode == 0, second.stderr
    assert "migrate: up to date" in second.stdout


@pytest.mark.parametrize("sql_url", ["postgresql+psycopg://u:hidden-pw@127.0.0.1:1/db"])
def test_tradestore_migrate_gives_up_after_its_timeout_without_showing_the_password(sql_url: str) -> None:
    result = run_migrate(sql_url, "--timeout", "1")
    assert result.returncode == 1
    assert "gave up after 1s" in result.stderr
    assert "hidden-pw" not in result.stderr + result.stdout
