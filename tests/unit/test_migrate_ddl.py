"""The DDL `tradestore migrate` applies, compiled for SQL Server without a server: dbo, PK, bounded types."""

from __future__ import annotations

import re

import pytest

from kafkaconsumermssql.schema import ddl_statements, dialect_named
from tradestore.cli import main


@pytest.fixture
def mssql_ddl() -> list[str]:
    return ddl_statements(dialect_named("mssql"))


def test_table_lives_in_dbo_with_the_business_key_as_primary_key(mssql_ddl: list[str]) -> None:
    table = mssql_ddl[0]
    assert table.startswith("CREATE TABLE dbo.trades (")
    assert "CONSTRAINT pk_trades PRIMARY KEY (trade_id, version, book_id)" in table
    assert table.endswith(";")


def test_columns_have_the_sql_server_types_and_are_not_null(mssql_ddl: list[str]) -> None:
    columns = dict(re.findall(r"^\s+(\w+) (.+?) NOT NULL,", mssql_ddl[0], flags=re.M))
    assert columns == {
        "trade_id": "VARCHAR(64)",
        "book_id": "VARCHAR(64)",
        "counterparty_id": "VARCHAR(64)",
        "version": "INTEGER",
        "maturity_date": "DATE",
        "created_date": "DATE",
        "expired": "BIT",
        "kafka_partition": "INTEGER",
        "kafka_offset": "BIGINT",
        "persisted_at": "DATETIMEOFFSET",
    }


def test_no_key_column_is_max_or_unicode(mssql_ddl: list[str]) -> None:
    assert "MAX" not in mssql_ddl[0]
    assert "NVARCHAR" not in mssql_ddl[0]


def test_an_index_serves_the_max_version_lookup(mssql_ddl: list[str]) -> None:
    assert mssql_ddl[1] == "CREATE INDEX ix_trades_trade_id_version ON dbo.trades (trade_id, version);"


def test_postgres_ddl_uses_the_default_schema_and_boolean() -> None:
    table = ddl_statements(dialect_named("postgresql"))[0]
    assert table.startswith("CREATE TABLE trades (")
    assert "expired BOOLEAN NOT NULL" in table


def test_print_ddl_writes_the_mssql_ddl_without_a_database(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--print-ddl", "mssql"]) == 0
    out = capsys.readouterr().out
    assert "CREATE TABLE dbo.trades (" in out
    assert "CREATE INDEX ix_trades_trade_id_version ON dbo.trades" in out
