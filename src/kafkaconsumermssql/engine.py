"""The SQLAlchemy engine for SQL_URL, and the mapping of connection failures to StoreUnavailable.

The URL holds a password: it is only ever logged through shared.redact, and driver messages
(which can echo it) are scrubbed before they travel in an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from shared.errors import StoreUnavailable
from shared.redact import redact_text, redact_url

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_S = 5


def make_engine(url: str) -> sa.Engine:
    """An engine with pool_pre_ping; SQLite gets its directory, WAL and a busy timeout."""
    parsed = sa.make_url(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    elif backend == "mssql" and parsed.get_driver_name() == "pymssql":
        kwargs["connect_args"] = {"login_timeout": CONNECT_TIMEOUT_S}
    elif backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, **kwargs)
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    log.info("SQL store at %s", redact_url(url))
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers (tests, `tradestore` tools) run while the sink writes; busy_timeout waits on locks."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def is_unavailable(error: BaseException) -> bool:
    """True when the error means "cannot reach the database now" rather than a bad statement."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, exc.OperationalError | exc.DisconnectionError | exc.InterfaceError)


@contextmanager
def store_errors(engine: sa.Engine, doing: str) -> Iterator[None]:
    """Re-raise connection-level failures as StoreUnavailable, with no secret in the message."""
    try:
        yield
    except (exc.DBAPIError, exc.DisconnectionError) as error:
        if not is_unavailable(error):
            raise
        url = engine.url
        secrets = [url.password] if isinstance(url.password, str) else []
        detail = redact_text(str(getattr(error, "orig", None) or error).splitlines()[0], secrets)
        where = url.render_as_string(hide_password=True)
        raise StoreUnavailable(f"SQL store {where} unavailable while {doing}: {detail}") from None
