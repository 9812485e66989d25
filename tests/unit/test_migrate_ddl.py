"""The schema `tradestore migrate` produces, compiled for SQL Server without a server and parsed as T-SQL."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
import sqlglot
from sqlglot import exp

from shared.stores.sql.migrate import mssql_bootstrap_statements, mssql_synonym_statements, offline_sql
from shared.stores.sql.schema import dialect_named, trades_table
from tradestore.cli import main

# Statements sqlglot keeps as an opaque Command (it has no grammar for them); checked by pattern instead.
OPAQUE = re.compile(r"^(IF .* (CREATE|DROP) SYNONYM|IF \(SELECT is_read_committed|USE )", re.S)


def mssql_table_ddl() -> str:
    table = trades_table("mssql")
    return str(sa.schema.CreateTable(table).compile(dialect=dialect_named("mssql"))).strip()


def test_key_columns_are_nvarchar_for_64_code_points_under_a_binary_collation() -> None:
    columns = dict(re.findall(r"^\s+(\w+) (.+?),?\s*$", mssql_table_ddl(), flags=re.M))
    for name in ("trade_id", "book_id", "counterparty_id"):
        assert columns[name] == "NVARCHAR(128) COLLATE Latin1_General_100_BIN2 NOT NULL", name
    assert columns["principal"] == "NVARCHAR(256) NULL"
    assert columns["persisted_at"] == "DATETIMEOFFSET NOT NULL"
    assert columns["expired"] == "BIT NOT NULL"
    assert not re.search(r"(?<!N)VARCHAR", mssql_table_ddl())


def test_the_table_keys_on_the_business_key_and_indexes_only_what_expiry_filters() -> None:
    table = trades_table("mssql")
    assert "CONSTRAINT pk_trades PRIMARY KEY (trade_id, version, book_id)" in mssql_table_ddl()
    indexes = [str(sa.schema.CreateIndex(ix).compile(dialect=dialect_named("mssql"))) for ix in table.indexes]
    assert indexes == ["CREATE INDEX ix_trades_expiry ON dbo.trades (maturity_date) WHERE expired = 0"]


def test_every_statement_migrate_runs_on_sql_server_parses_as_tsql() -> None:
    text = "\n".join(line for line in offline_sql("mssql").splitlines() if line.strip() != "GO")
    statements = [s for s in re.split(r";\s*\n", text) if s.strip()]
    opaque = 0
    for statement in statements:
        body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
        if not body:
            continue
        if OPAQUE.match(body):
            opaque += 1
            continue
        parsed = sqlglot.parse(body, read="tsql", error_level=sqlglot.ErrorLevel.RAISE)
        assert not any(isinstance(e, exp.Command) for e in parsed), body
    assert opaque == 5  # USE twice, the RCSI switch, the synonym replaced and created


def test_the_sql_server_upgrade_ends_with_nvarchar_binary_keys_principal_and_no_redundant_index() -> None:
    text = offline_sql("mssql")
    for name in ("trade_id", "book_id", "counterparty_id"):
        assert f"ALTER COLUMN {name} NVARCHAR(128) COLLATE Latin1_General_100_BIN2 NOT NULL" in text
    assert text.index("DROP CONSTRAINT pk_trades") < text.index("ALTER COLUMN trade_id NVARCHAR")
    assert text.index("ALTER COLUMN book_id NVARCHAR") < text.index("ADD CONSTRAINT pk_trades PRIMARY KEY")
    assert "DROP INDEX IF EXISTS ix_trades_trade_id_version ON dbo.trades" in text
    assert "ALTER TABLE dbo.trades ADD principal NVARCHAR(256) NULL" in text
    assert "CREATE INDEX ix_trades_expiry ON dbo.trades (maturity_date) WHERE expired = 0" in text


def test_sql_server_gets_a_dedicated_database_with_rcsi_and_a_synonym_in_master() -> None:
    setup = mssql_bootstrap_statements("tradestore")
    assert setup[0] == "IF DB_ID(N'tradestore') IS NULL CREATE DATABASE [tradestore]"
    assert "ALTER DATABASE [tradestore] SET READ_COMMITTED_SNAPSHOT ON WITH ROLLBACK IMMEDIATE" in setup[1]
    replace, create = mssql_synonym_statements("tradestore")
    assert "AND base_object_name <> N'[tradestore].[dbo].[trades]')\n  DROP SYNONYM [dbo].[trades]" in replace
    assert create.startswith("IF OBJECT_ID(N'dbo.trades') IS NULL\n")
    assert create.endswith("CREATE SYNONYM [dbo].[trades] FOR [tradestore].[dbo].[trades]")
    sqlglot.parse_one(setup[0], read="tsql", error_level=sqlglot.ErrorLevel.RAISE)


def test_postgres_keys_use_the_c_collation_and_expiry_a_partial_index() -> None:
    text = offline_sql("postgresql")
    assert 'ALTER TABLE trades ALTER COLUMN trade_id TYPE VARCHAR(64) COLLATE "C"' in text
    assert "CREATE INDEX ix_trades_expiry ON trades (maturity_date) WHERE NOT expired" in text


@pytest.mark.parametrize("dialect_name", ["mssql", "postgresql", "sqlite"])
def test_print_ddl_writes_the_migration_sql_without_a_database(
    dialect_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--print-ddl", dialect_name]) == 0
    out = capsys.readouterr().out
    assert "-- Running upgrade 0001 -> 0002" in out
    assert "ix_trades_expiry" in out
