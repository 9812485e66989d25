"""SQL error classification by error number / SQLSTATE, with the drivers' own exception objects.

pymssql builds its DB-API exception from an _mssql.MSSQLDatabaseException's args[0], the tuple
(number, message) (pymssql/_pymssql.pyx, Cursor.execute); pyodbc builds Error(sqlstate, message) with
the native error number in parentheses before the ODBC function name (pyodbc src/errors.cpp); psycopg
has one class per SQLSTATE; SQLite errors are produced here by a real SQLite.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pymssql
import pymssql._mssql as _mssql
import pyodbc
import pytest
import sqlalchemy as sa
from sqlalchemy import exc

from shared.errors import StoreRejected, StoreUnavailable
from shared.stores.sql.errors import classify, mssql_number, store_errors

ODBC = "[Microsoft][ODBC Driver 18 for SQL Server][SQL Server]"


def pymssql_error(
    number: int, text: str, cls: type[Exception] = pymssql.exceptions.OperationalError
) -> Exception:
    """What pymssql raises: the DB-API class built from MSSQLDatabaseException.args[0]."""
    raw = _mssql.MSSQLDatabaseException(
        (number, text.encode() + b"DB-Lib error message 20018, severity 16:\n")
    )
    return cls(raw.args[0])


def pyodbc_error(sqlstate: str, text: str, native: int, cls: type[Exception] = pyodbc.Error) -> Exception:
    """What pyodbc raises: Error(sqlstate, "[sqlstate] [driver][server]text (native) (function)")."""
    return cls(sqlstate, f"[{sqlstate}] {ODBC}{text} ({native}) (SQLExecDirectW)")


def wrapped(orig: Exception, base: type[Exception]) -> exc.DBAPIError:
    """The SQLAlchemy exception an engine raises around the driver's."""
    return exc.DBAPIError.instance("MERGE ...", None, orig, base)


PYMSSQL_TRANSIENT = [
    (1205, "Transaction (Process ID 57) was deadlocked on lock resources"),
    (1222, "Lock request time out period exceeded."),
    (18456, "Login failed for user 'sa'."),
    (4060, 'Cannot open database "tradestore" requested by the login. The login failed.'),
    (40613, "Database 'tradestore' on server 'x' is not currently available."),
    (20009, "Unable to connect: Adaptive Server is unavailable or does not exist"),
    (20003, "Adaptive Server connection timed out"),
    (20047, "DBPROCESS is dead or not enabled"),
]
PYMSSQL_REJECTED = [
    (2627, "Violation of PRIMARY KEY constraint 'pk_trades'.", pymssql.exceptions.IntegrityError),
    (2601, "Cannot insert duplicate key row in object 'dbo.trades'.", pymssql.exceptions.IntegrityError),
    (2628, "String or binary data would be truncated in table 'tradestore.dbo.trades'.", None),
    (8152, "String or binary data would be truncated.", None),
    (8672, "The MERGE statement attempted to UPDATE or DELETE the same row more than once.", None),
    (
        547,
        "The INSERT statement conflicted with the CHECK constraint 'ck_trades_book'.",
        pymssql.exceptions.IntegrityError,
    ),
    (245, "Conversion failed when converting the nvarchar value 'x' to data type int.", None),
    (8114, "Error converting data type nvarchar to bigint.", None),
    (208, "Invalid object name 'dbo.trades'.", pymssql.exceptions.ProgrammingError),
    (50000, "trade refused by trigger", None),
]


@pytest.mark.parametrize(("number", "text"), PYMSSQL_TRANSIENT)
def test_pymssql_transient_errors_are_retried(number: int, text: str) -> None:
    error = pymssql_error(number, text)
    assert mssql_number(error) == number
    assert classify(wrapped(error, pymssql.exceptions.Error)) == "transient"


@pytest.mark.parametrize(("number", "text", "cls"), PYMSSQL_REJECTED)
def test_pymssql_deterministic_errors_are_rejections_whatever_their_class(
    number: int, text: str, cls: type[Exception] | None
) -> None:
    error = pymssql_error(number, text, cls or pymssql.exceptions.OperationalError)
    assert classify(wrapped(error, pymssql.exceptions.Error)) == "rejected"


def test_pymssql_truncation_arrives_as_operational_error_and_is_still_a_rejection() -> None:
    error = wrapped(pymssql_error(2628, "String or binary data would be truncated"), pymssql.exceptions.Error)
    assert isinstance(error, exc.OperationalError)  # what made the old code retry it forever
    assert classify(error) == "rejected"


PYODBC_TRANSIENT = [
    ("40001", "Transaction (Process ID 52) was deadlocked on lock resources with another process.", 1205),
    ("HYT00", "Query timeout expired", 0),
    ("08S01", "TCP Provider: An existing connection was forcibly closed by the remote host.", 10054),
    ("28000", "Login failed for user 'sa'.", 18456),
    ("42000", 'Cannot open database "tradestore" requested by the login. The login failed.', 4060),
    ("HY000", "Lock request time out period exceeded.", 1222),
]
PYODBC_REJECTED = [
    ("23000", "Violation of PRIMARY KEY constraint 'pk_trades'.", 2627, pyodbc.IntegrityError),
    ("22001", "String or binary data would be truncated.", 2628, pyodbc.DataError),
    (
        "42000",
        "The MERGE statement attempted to UPDATE or DELETE the same row more than once.",
        8672,
        pyodbc.ProgrammingError,
    ),
    ("42S02", "Invalid object name 'dbo.trades'.", 208, pyodbc.ProgrammingError),
    (
        "22018",
        "Conversion failed when converting the nvarchar value 'x' to data type int.",
        245,
        pyodbc.DataError,
    ),
]


@pytest.mark.parametrize(("state", "text", "native"), PYODBC_TRANSIENT)
def test_pyodbc_transient_errors_are_retried(state: str, text: str, native: int) -> None:
    error = pyodbc_error(state, text, native)
    assert classify(wrapped(error, pyodbc.Error)) == "transient"


@pytest.mark.parametrize(("state", "text", "native", "cls"), PYODBC_REJECTED)
def test_pyodbc_deterministic_errors_are_rejections(
    state: str, text: str, native: int, cls: type[Exception]
) -> None:
    error = pyodbc_error(state, text, native, cls)
    assert mssql_number(error) == native
    assert classify(wrapped(error, pyodbc.Error)) == "rejected"


def test_pyodbc_deadlock_is_retried_although_it_is_not_an_operational_error() -> None:
    error = wrapped(pyodbc_error("40001", "deadlocked", 1205), pyodbc.Error)
    assert not isinstance(error, exc.OperationalError)
    assert classify(error) == "transient"


@pytest.mark.parametrize("state", ["40P01", "40001", "55P03", "57014", "57P01", "57P03", "08006", "53300"])
def test_psycopg_transient_sqlstates_are_retried(state: str) -> None:
    error = psycopg.errors.lookup(state)("server said no")
    assert error.sqlstate == state
    assert classify(wrapped(error, psycopg.Error)) == "transient"


@pytest.mark.parametrize("state", ["23505", "23514", "23502", "22001", "22P02", "P0001", "42P01", "21000"])
def test_psycopg_deterministic_sqlstates_are_rejections(state: str) -> None:
    error = psycopg.errors.lookup(state)("server said no")
    assert classify(wrapped(error, psycopg.Error)) == "rejected"


def sqlite_error(tmp_path: Path, sql: str) -> sqlite3.Error:
    conn = sqlite3.connect(tmp_path / "db.sqlite")
    conn.executescript(
        "CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY);"
        "CREATE TRIGGER IF NOT EXISTS refuse BEFORE INSERT ON t WHEN NEW.id = 'poison'"
        " BEGIN SELECT RAISE(ABORT, 'poison refused'); END;"
        "INSERT OR IGNORE INTO t VALUES ('a');"
    )
    try:
        conn.execute(sql)
    except sqlite3.Error as error:
        return error
    finally:
        conn.close()
    raise AssertionError(f"{sql} did not fail")


@pytest.mark.parametrize(
    "sql", ["INSERT INTO t VALUES ('a')", "INSERT INTO t VALUES ('poison')", "INSERT INTO missing VALUES (1)"]
)
def test_sqlite_constraint_trigger_and_missing_table_are_rejections(tmp_path: Path, sql: str) -> None:
    assert classify(wrapped(sqlite_error(tmp_path, sql), sqlite3.Error)) == "rejected"


def test_sqlite_busy_database_is_transient(tmp_path: Path) -> None:
    holder = sqlite3.connect(tmp_path / "busy.sqlite", isolation_level=None)
    holder.execute("CREATE TABLE t (id TEXT)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        other = sqlite3.connect(tmp_path / "busy.sqlite", timeout=0)
        with pytest.raises(sqlite3.OperationalError) as caught:
            other.execute("SELECT * FROM t")
        other.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert caught.value.sqlite_errorcode == sqlite3.SQLITE_BUSY
    assert classify(wrapped(caught.value, sqlite3.Error)) == "transient"


def test_a_dropped_connection_is_transient_whatever_the_error() -> None:
    error = exc.DBAPIError.instance("SELECT 1", None, pymssql_error(2627, "dup"), pymssql.exceptions.Error)
    error.connection_invalidated = True
    assert classify(error) == "transient"


def test_store_errors_raise_rejected_with_the_reason_and_unavailable_without_the_password() -> None:
    engine = sa.create_engine("mssql+pymssql://sa:s3cret-pw@db:1433/tradestore")
    with pytest.raises(StoreRejected) as rejected, store_errors(engine, "writing trades"):
        raise wrapped(
            pymssql_error(2628, "String or binary data would be truncated"), pymssql.exceptions.Error
        )
    assert "error 2628: String or binary data would be truncated" in rejected.value.reason
    with pytest.raises(StoreUnavailable) as unavailable, store_errors(engine, "writing trades"):
        raise wrapped(
            pymssql_error(18456, "Login failed for user 'sa' password s3cret-pw"), pymssql.exceptions.Error
        )
    assert "s3cret-pw" not in str(unavailable.value)
    assert "while writing trades" in str(unavailable.value)


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("postgresql+psycopg://app@db:5432/trades?password=s3cret-pw&sslmode=require", "s3cret-pw"),
        ("mssql+pyodbc://app@db/tradestore?driver=ODBC+Driver+18&PWD=s3cret-pw", "s3cret-pw"),
        (
            "mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BODBC%7D%3BSERVER%3Ddb%3BUID%3Dsa%3BPWD%3Ds3cret-pw",
            "s3cret-pw",
        ),
    ],
)
def test_a_password_in_the_url_query_is_in_neither_the_location_nor_the_detail(
    url: str, password: str
) -> None:
    """Session 3: only the URL's user password was redacted; one given as a query parameter (libpq's
    `password=`, pyodbc's `odbc_connect` PWD=) appeared in the location and in an echoing driver message."""
    engine = sa.create_engine(url, module=pyodbc) if "pyodbc" in url else sa.create_engine(url)
    with pytest.raises(StoreUnavailable) as unavailable, store_errors(engine, "pinging"):
        raise wrapped(pyodbc_error("08001", f"login refused for password {password}", 18456), pyodbc.Error)
    message = str(unavailable.value)
    assert password not in message
    assert "login refused for password ***" in message
    assert message.startswith(
        f"SQL store {engine.url.set(query={}).render_as_string()} unavailable while pinging: "
    )
