"""`tradestore migrate`: bring the SQL schema to the newest Alembic revision (compose's mssql-init runs it).

On SQL Server it first creates the dedicated database (READ_COMMITTED_SNAPSHOT on: readers do not
block the sinks, which master cannot do), and afterwards a synonym master.dbo.trades -> <db>.dbo.trades
so a query connected to master (the seed's check) still reads dbo.trades (issue 13, item 8).
A table created before Alembic (no alembic_version) is stamped at revision 0001, then upgraded.
"""

from __future__ import annotations

import io
import logging
import time
from importlib.resources import files

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from shared.errors import StoreUnavailable
from shared.stores.sql.errors import store_errors
from shared.stores.sql.schema import TABLE_NAME, schema_for

log = logging.getLogger(__name__)
LEGACY_REVISION = "0001"
SYSTEM_DATABASES = frozenset({"master", "tempdb", "model", "msdb"})  # never created, altered or aliased


def alembic_config(url: str = "sqlite://", output: io.StringIO | None = None) -> Config:
    config = Config(output_buffer=output)
    config.set_main_option("script_location", str(files("shared.stores.sql") / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no Alembic revision found under shared/stores/sql/migrations")
    return head


def current_revision(conn: sa.Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def wait_until_reachable(engine: sa.Engine, timeout_s: float, interval_s: float = 1.0) -> None:
    """Retry `SELECT 1` until it answers; StoreUnavailable with the last reason after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with store_errors(engine, "waiting for the database"), engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return
        except StoreUnavailable as error:
            if time.monotonic() + interval_s > deadline:
                raise StoreUnavailable(f"gave up after {timeout_s:g}s: {error}") from None
            log.info("database not ready yet, retrying: %s", error)
            time.sleep(interval_s)


def upgrade(engine: sa.Engine) -> list[str]:
    """Upgrade the store's database to head; the revisions applied (empty when already there)."""
    name, schema = TABLE_NAME, schema_for(engine.dialect.name)
    with store_errors(engine, "migrating"), engine.begin() as conn:
        before = current_revision(conn)
        if before is None and sa.inspect(conn).has_table(name, schema=schema):
            log.info("table %s predates Alembic: stamping it at revision %s", name, LEGACY_REVISION)
            config = alembic_config()
            config.attributes["connection"] = conn
            command.stamp(config, LEGACY_REVISION)
            before = LEGACY_REVISION
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        after = current_revision(conn)
    script = ScriptDirectory.from_config(alembic_config())
    applied = [rev.revision for rev in script.iterate_revisions(after, before)] if after != before else []
    return list(reversed(applied))


def mssql_bootstrap_statements(database: str) -> list[str]:
    """Create the dedicated database with READ_COMMITTED_SNAPSHOT (run in master, autocommit).

    `database` comes from settings (SQL_MSSQL_DATABASE, validated as a plain identifier), not from input.
    """
    rcsi = "SELECT is_read_committed_snapshot_on FROM sys.databases"
    return [
        f"IF DB_ID(N'{database}') IS NULL CREATE DATABASE [{database}]",
        f"IF ({rcsi} WHERE name = N'{database}') = 0\n"
        f"  ALTER DATABASE [{database}] SET READ_COMMITTED_SNAPSHOT ON WITH ROLLBACK IMMEDIATE",
    ]


def mssql_synonym_statements(database: str) -> list[str]:
    """master.dbo.trades -> <database>.dbo.trades, so the seed's query against master still works.

    A synonym left pointing elsewhere is replaced; a real table of that name (a pre-Alembic deployment
    kept its rows in master) is left alone.
    """
    target = f"[{database}].[dbo].[{TABLE_NAME}]"
    return [
        f"IF EXISTS (SELECT 1 FROM sys.synonyms WHERE name = N'{TABLE_NAME}'\n"  # noqa: S608  # nosec B608  # settings, not input
        f"  AND schema_id = SCHEMA_ID(N'dbo') AND base_object_name <> N'{target}')\n"
        f"  DROP SYNONYM [dbo].[{TABLE_NAME}]",
        f"IF OBJECT_ID(N'dbo.{TABLE_NAME}') IS NULL\n  CREATE SYNONYM [dbo].[{TABLE_NAME}] FOR {target}",
    ]


def _run_in_master(engine: sa.Engine, statements: list[str], doing: str) -> None:
    master = sa.create_engine(engine.url.set(database="master"), isolation_level="AUTOCOMMIT")
    try:
        with store_errors(master, doing), master.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        master.dispose()


def migrate(engine: sa.Engine, timeout_s: float = 60.0, dedicated: str = "tradestore") -> list[str]:
    """Create what is missing and upgrade to head; the revisions applied (empty: up to date).

    `engine` is the store's (shared.stores.sql.engine.make_engine): on SQL Server it points at its own
    database, which this creates first through master; only the `dedicated` one (SQL_MSSQL_DATABASE)
    gets the synonym in master, so a test's throwaway database never captures it.
    """
    database = engine.url.database or ""
    own_database = engine.dialect.name == "mssql" and database.lower() not in SYSTEM_DATABASES
    if own_database:
        master = sa.create_engine(engine.url.set(database="master"))
        try:
            wait_until_reachable(master, timeout_s)
        finally:
            master.dispose()
        _run_in_master(engine, mssql_bootstrap_statements(database), "creating the database")
    wait_until_reachable(engine, timeout_s)
    applied = upgrade(engine)
    if own_database and database == dedicated:
        _run_in_master(engine, mssql_synonym_statements(database), "creating the synonym in master")
    return applied


def offline_sql(dialect_name: str, database: str = "tradestore") -> str:
    """Every statement migrate runs, as SQL text for a dialect, without a database (--print-ddl)."""
    output = io.StringIO()
    config = alembic_config(f"{dialect_name}://", output)
    command.upgrade(config, "head", sql=True)
    if dialect_name != "mssql":
        return output.getvalue()
    setup = ";\n\n".join(mssql_bootstrap_statements(database))
    synonym = ";\n\n".join(mssql_synonym_statements(database))
    return (
        f"-- in master\n{setup};\n\nUSE [{database}];\n\n{output.getvalue()}\nUSE [master];\n\n{synonym};\n"
    )
