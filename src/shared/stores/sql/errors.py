"""Driver errors -> StoreUnavailable (transient: retry the batch) or StoreRejected (deterministic).

Classified by cause, not by driver class: pymssql raises truncation (2628) and MERGE duplicate source
(8672) as OperationalError, pyodbc raises a deadlock as a generic Error with SQLSTATE 40001. So the SQL
Server error number decides first (pymssql carries it in args[0], pyodbc at the end of its message),
then the SQLSTATE (pyodbc, psycopg), then SQLite's result code, and only then the DB-API class.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import sqlalchemy as sa
from sqlalchemy import exc

from shared.errors import StoreRejected, StoreUnavailable
from shared.redact import redact_text

Kind = Literal["transient", "rejected"]

# SQL Server error numbers (sys.messages) and DB-Library codes (pymssql, 20000+).
MSSQL_TRANSIENT = frozenset(
    {
        1205,  # deadlock victim
        1222,  # lock request time out (SET LOCK_TIMEOUT)
        3960,  # snapshot isolation update conflict
        233, 10053, 10054, 10060,  # connection reset / closed by the server
        4060,  # cannot open database (starting up, or restored)
        18456,  # login failed (the server is restarting and not accepting logins yet)
        926, 922, 942,  # database cannot be opened / is being recovered / offline
        40613, 40197, 40501, 49918, 49919, 49920, 10928, 10929,  # database unavailable, busy, throttled
        701, 802, 8645,  # out of memory / buffer pool / memory grant wait timeout
        20003,  # DB-Lib: server connection timed out (pymssql query timeout)
        20004, 20006, 20009, 20017, 20020, 20047,  # DB-Lib: read/write failed, cannot connect, dead
    }
)  # fmt: skip
MSSQL_REJECTED = frozenset(
    {
        2627, 2601,  # duplicate key (constraint / unique index)
        2628, 8152,  # string or binary data would be truncated
        8672,  # MERGE attempted to update or delete the same row more than once (duplicate source)
        547,  # CHECK / FOREIGN KEY constraint
        515,  # NULL into a NOT NULL column
        245, 8114, 8115, 241, 242, 8023, 13609,  # conversion, overflow, date conversion, JSON
        208, 207, 4104, 2812, 102, 156,  # missing object / column, unknown procedure, syntax
        3609,  # the transaction ended in the trigger
    }
)  # fmt: skip
MSSQL_USER_ERROR = 50000  # RAISERROR / THROW from a trigger or procedure: the database refused the row

# SQLSTATE prefixes (pyodbc's ODBC states, PostgreSQL's error codes). Longest prefix wins.
SQLSTATE_KINDS: dict[str, Kind] = {
    "08": "transient",  # connection exception
    "28": "transient",  # invalid authorization (a restarting server refuses logins)
    "40001": "transient",  # serialization failure / deadlock (SQL Server via ODBC, PostgreSQL)
    "40P01": "transient",  # PostgreSQL deadlock detected
    "53": "transient",  # insufficient resources
    "55P03": "transient",  # lock_not_available (lock_timeout)
    "57014": "transient",  # query_canceled (statement_timeout)
    "57P": "transient",  # admin/crash shutdown, cannot connect now
    "58": "transient",  # system error (I/O)
    "HYT": "transient",  # ODBC timeout expired
    "21": "rejected",  # cardinality violation (a row affected twice)
    "22": "rejected",  # data exception (truncation, conversion, out of range)
    "23": "rejected",  # integrity constraint violation
    "42": "rejected",  # syntax error or access rule violation (missing table...)
    "44": "rejected",  # WITH CHECK OPTION violation
    "P0": "rejected",  # PL/pgSQL RAISE (a trigger refusing the row)
}

# SQLite primary result codes (extended code & 0xFF).
SQLITE_TRANSIENT = frozenset(
    {5, 6, 7, 8, 9, 10, 13, 14, 15}
)  # BUSY LOCKED NOMEM READONLY INTERRUPT IOERR FULL ...
SQLITE_REJECTED = frozenset({1, 18, 19, 20, 25})  # ERROR TOOBIG CONSTRAINT MISMATCH RANGE

_ODBC_PWD = re.compile(r"(?i)(?:^|;)\s*PWD\s*=\s*([^;]*)")
_ODBC_NATIVE = re.compile(r"\((-?\d+)\)\s*\(SQL\w+\)\s*$")


def mssql_number(error: BaseException) -> int | None:
    """The SQL Server error number a pymssql or pyodbc exception carries, if any."""
    args = error.args
    if args and isinstance(args[0], tuple) and args[0] and isinstance(args[0][0], int):
        return args[0][0]  # pymssql: Error((number, message bytes))
    if len(args) >= 2 and isinstance(args[1], str):
        found = _ODBC_NATIVE.search(
            args[1]
        )  # pyodbc: Error(sqlstate, "[...] text (number) (SQLExecDirectW)")
        if found:
            return int(found.group(1))
    return None


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a psycopg or pyodbc exception, if any."""
    state = getattr(error, "sqlstate", None)
    if isinstance(state, str):
        return state
    args = error.args
    if len(args) >= 2 and isinstance(args[0], str) and re.fullmatch(r"[0-9A-Z]{5}", args[0]):
        return args[0]  # pyodbc: Error(sqlstate, message)
    return None


def classify_driver_error(error: BaseException) -> Kind | None:
    """transient / rejected from what the driver's exception carries; None when it carries nothing known."""
    number = mssql_number(error)
    if number is not None:
        if number in MSSQL_TRANSIENT:
            return "transient"
        if number in MSSQL_REJECTED or number >= MSSQL_USER_ERROR:
            return "rejected"
    state = sqlstate(error)
    if state is not None:
        for size in (5, 3, 2):
            kind = SQLSTATE_KINDS.get(state[:size])
            if kind is not None:
                return kind
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        primary = code & 0xFF
        if primary in SQLITE_TRANSIENT:
            return "transient"
        if primary in SQLITE_REJECTED:
            return "rejected"
    return None


def classify(error: BaseException) -> Kind:
    """transient (retry the batch) or rejected (a retry fails the same way) for any database error."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return "transient"
    orig = error.orig if isinstance(error, exc.DBAPIError) else error
    kind = classify_driver_error(orig) if isinstance(orig, BaseException) else None
    if kind is not None:
        return kind
    if isinstance(error, exc.IntegrityError | exc.DataError | exc.ProgrammingError):
        return "rejected"
    return "transient"  # unknown causes are retried: a stalled partition is visible, a lost record is not


@contextmanager
def store_errors(engine: sa.Engine, doing: str) -> Iterator[None]:
    """Re-raise database errors as StoreUnavailable or StoreRejected, with no secret in the message."""
    try:
        yield
    except (exc.DBAPIError, exc.DisconnectionError) as error:
        url = engine.url
        orig = getattr(error, "orig", None) or error
        detail = redact_text(_first_line(orig), _secrets(url))
        if classify(error) == "rejected":
            raise StoreRejected(f"SQL store refused the write while {doing}: {detail}") from None
        where = url.set(query={}).render_as_string(hide_password=True)  # a query may carry a password
        raise StoreUnavailable(f"SQL store {where} unavailable while {doing}: {detail}") from None


def _secrets(url: sa.URL) -> list[str]:
    """The password wherever the URL carries it: after the user, as `password=`/`pwd=`, or as `PWD=` in
    pyodbc's `odbc_connect` string."""
    found = [url.password] if isinstance(url.password, str) else []
    for name, values in url.query.items():
        for value in (values,) if isinstance(values, str) else values:
            found += [value] if name.lower() in ("password", "pwd") else _ODBC_PWD.findall(value)
    return found


def _first_line(error: BaseException) -> str:
    number = mssql_number(error)
    args = error.args
    if number is not None and args and isinstance(args[0], tuple) and len(args[0]) > 1:
        text = args[0][1]
        message = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"error {number}: {message.splitlines()[0] if message else ''}"
    lines = str(error).splitlines()
    return lines[0] if lines else type(error).__name__
