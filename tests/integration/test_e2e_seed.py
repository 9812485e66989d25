"""The test design's section 7.4 snippet (pyodbc, ODBC Driver 18), as written, against a running stack.

Only its connection details and API key come from the environment (TRADEDATA_URL, MONGO_URL, SQL_URL,
TRADEDATA_API_KEYS), and its `time.sleep(2)` became a poll with a deadline. It runs in the compose
`test` profile against real SQL Server (GitHub). Where SQL Server does not run, or ODBC Driver 18 is not
installed, it reports skipped and says which.
"""

import os
import re
import time

import pymongo
import pytest
import requests
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.e2e

API = os.environ.get("TRADEDATA_URL", "http://localhost:8001").rstrip("/") + "/trades"
ODBC_DRIVER = "ODBC Driver 18 for SQL Server"
DEADLINE_S = 30.0


def sql_server_connection_string() -> str:
    """The snippet's pyodbc connection string, with server, port, database, user and password from SQL_URL."""
    raw = os.environ.get("SQL_URL", "")
    url = make_url(raw) if raw else None
    if url is None or url.get_backend_name() != "mssql":
        backend = url.get_backend_name() if url else "no SQL_URL"
        pytest.skip(f"SQL Server does not run here ({backend}); this snippet runs against real SQL Server")
    try:
        import pyodbc
    except ImportError as exc:  # the pyodbc wheel needs unixODBC's libodbc
        pytest.skip(f"pyodbc cannot load here ({exc}); the compose tests image has it")

    if ODBC_DRIVER not in pyodbc.drivers():
        pytest.skip(f"{ODBC_DRIVER} is not installed here (the compose tests image installs it)")
    password = (url.password or "").replace("}", "}}")
    return (
        f"Driver={{{ODBC_DRIVER}}};Server={url.host},{url.port or 1433};Database={url.database or 'master'};"
        f"UID={url.username};PWD={{{password}}};TrustServerCertificate=Yes;"
    )


def api_key_headers() -> dict[str, str]:
    """X-API-Key: the first key of TRADEDATA_API_KEYS (bare `key` or `id:scopes:key` entries)."""
    entries = [e for e in re.split(r"[,;\s]+", os.environ.get("TRADEDATA_API_KEYS", "")) if e]
    return {"X-API-Key": entries[0].rsplit(":", 1)[-1]} if entries else {}


def poll(read, deadline_s=DEADLINE_S):  # type: ignore[no-untyped-def]
    """Re-read until truthy (the snippet's "small propagation delay"), failing at the deadline."""
    end = time.monotonic() + deadline_s
    while not (value := read()):
        assert time.monotonic() < end, f"not persisted within {deadline_s:g}s"
        time.sleep(0.2)
    return value


def test_e2e_trade_persists_mongo_and_mssql():  # type: ignore[no-untyped-def]
    odbc = sql_server_connection_string()
    import pyodbc

    payload = {
        "trade_id": "T-2001",
        "counterparty_id": "CP-9",
        "book_id": "B-9",
        "version": 1,
        "maturity_date": "2026-01-15",
        "created_date": "2025-09-28",
        "expired": False,
    }
    r = requests.post(API, json=payload, headers=api_key_headers(), timeout=5)
    assert r.status_code in (200, 201)

    # Mongo
    mongo = pymongo.MongoClient(os.environ.get("MONGO_URL", "mongodb://localhost:27017"))
    doc = poll(
        lambda: mongo["trade_store"]["trades"].find_one(
            {"trade_id": "T-2001", "version": 1, "book_id": "B-9"}
        )
    )
    assert doc is not None

    # MSSQL
    conn = pyodbc.connect(odbc)
    cur = conn.cursor()

    def count() -> int:
        cur.execute(
            "SELECT COUNT(*) FROM dbo.trades WHERE trade_id=? AND [version]=? AND book_id=?",
            "T-2001",
            1,
            "B-9",
        )
        return int(cur.fetchone()[0])

    poll(count)
    assert count() == 1
