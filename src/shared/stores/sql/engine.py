"""The SQLAlchemy engine for SQL_URL, with statement and lock timeouts on every backend (issue 13, item 7).

- SQL Server: pymssql `timeout` (seconds a query may run) or pyodbc `Connection.timeout`, and
  `SET LOCK_TIMEOUT` on each new connection; a URL naming `master` (or no database) is pointed at the
  dedicated database SQL_MSSQL_DATABASE that `tradestore migrate` creates.
- PostgreSQL: `statement_timeout` and `lock_timeout` as connection options.
- SQLite: the busy timeout (how long a writer waits for the file lock).
The URL holds a password: it is only ever logged through shared.redact.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from shared.settings import Settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
SERVER_DATABASES = ("", "master")  # where a SQL Server URL points when it names no database of its own


@dataclass(frozen=True)
class SqlLimits:
    """How long one statement may run and how long it may wait for a lock."""

    statement_timeout_s: float = 30.0
    lock_timeout_s: float = 10.0
    mssql_database: str = "tradestore"

    @classmethod
    def from_settings(cls, settings: Settings) -> SqlLimits:
        return cls(settings.sql_statement_timeout_s, settings.sql_lock_timeout_s, settings.sql_mssql_database)

    @property
    def statement_ms(self) -> int:
        return math.ceil(self.statement_timeout_s * 1000)

    @property
    def lock_ms(self) -> int:
        return math.ceil(self.lock_timeout_s * 1000)


def store_url(url: str | sa.URL, limits: SqlLimits) -> sa.URL:
    """The URL the store uses: on SQL Server, its dedicated database instead of master."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "mssql" and (parsed.database or "") in SERVER_DATABASES:
        return parsed.set(database=limits.mssql_database)
    return parsed


def connect_args(url: sa.URL, limits: SqlLimits) -> dict[str, Any]:
    """Driver connect arguments carrying the connect and statement timeouts."""
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend == "postgresql":
        options = f"-c statement_timeout={limits.statement_ms} -c lock_timeout={limits.lock_ms}"
        return {"connect_timeout": CONNECT_TIMEOUT_S, "options": options}
    if backend == "mssql" and driver == "pymssql":
        return {"login_timeout": CONNECT_TIMEOUT_S, "timeout": math.ceil(limits.statement_timeout_s)}
    if backend == "sqlite":
        return {"timeout": limits.lock_timeout_s}
    return {}


def session_statements(dialect_name: str, limits: SqlLimits) -> list[str]:
    """Statements run on each new connection (SQL Server's lock timeout; SQLite's pragmas)."""
    if dialect_name == "mssql":
        return [f"SET LOCK_TIMEOUT {limits.lock_ms}"]
    if dialect_name == "sqlite":
        # WAL lets readers (tests, `tradestore` tools) run while the sink writes.
        return [
            "PRAGMA journal_mode=WAL",
            f"PRAGMA busy_timeout={limits.lock_ms}",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA case_sensitive_like=ON",  # prefix reads use LIKE; ids are case-sensitive
        ]
    return []


def make_engine(url: str | sa.URL, limits: SqlLimits | None = None, *, server: bool = False) -> sa.Engine:
    """An engine with pool_pre_ping and timeouts; `server=True` keeps a SQL Server URL's own database."""
    limits = limits or SqlLimits()
    parsed = sa.make_url(url) if server else store_url(url, limits)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args(parsed, limits))
    statements = session_statements(engine.dialect.name, limits)
    pyodbc_timeout = math.ceil(limits.statement_timeout_s) if parsed.get_driver_name() == "pyodbc" else 0

    sqlite = engine.dialect.name == "sqlite"

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if sqlite:
            # Python's sqlite3 only opens a transaction before INSERT/UPDATE/DELETE, not before `WITH ...
            # INSERT`, so each chunk of a batch would commit on its own; SQLAlchemy emits BEGIN instead.
            dbapi_connection.isolation_level = None
        if pyodbc_timeout:
            dbapi_connection.timeout = pyodbc_timeout  # pyodbc's query timeout (seconds)
        cursor = dbapi_connection.cursor()
        try:
            for statement in statements:
                cursor.execute(statement)
        finally:
            cursor.close()

    sa.event.listen(engine, "connect", on_connect)
    if sqlite:
        sa.event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
    log.info("SQL store at %s", parsed.render_as_string(hide_password=True))
    return engine
