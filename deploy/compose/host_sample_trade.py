"""From the host: POST the seed's sample trade to the published API port, then find it in both stores.

Reads TRADEDATA_URL, TRADEDATA_API_KEYS, MONGO_URL and SQL_URL (host addresses of the compose stack).
Polls each store with a deadline; exits non-zero when the trade is not found in either.
"""

import os
import sys
import time
from collections.abc import Callable

import httpx
import sqlalchemy as sa
from pymongo import MongoClient

from shared.schema import SAMPLE_TRADE

DEADLINE_S = 60.0


def wait_for(what: str, found: Callable[[], bool]) -> None:
    end = time.monotonic() + DEADLINE_S
    while not found():
        if time.monotonic() > end:
            sys.exit(f"{SAMPLE_TRADE['trade_id']} not in {what} within {DEADLINE_S:g}s")
        time.sleep(0.2)
    print(f"found in {what}")


key = os.environ["TRADEDATA_API_KEYS"].split(",")[0].strip()
response = httpx.post(
    f"{os.environ['TRADEDATA_URL']}/trades", json=SAMPLE_TRADE, headers={"X-API-Key": key}, timeout=10
)
print(f"POST /trades -> {response.status_code}")
if response.status_code not in (200, 201):
    sys.exit(f"POST /trades answered {response.status_code}: {response.text}")
where = {k: SAMPLE_TRADE[k] for k in ("trade_id", "version", "book_id")}

mongo = MongoClient(os.environ["MONGO_URL"], serverSelectionTimeoutMS=5000)
wait_for("MongoDB trade_store.trades", lambda: mongo["trade_store"]["trades"].find_one(where) is not None)

engine = sa.create_engine(os.environ["SQL_URL"])
trades = sa.table("trades", sa.column("trade_id"), sa.column("version"), sa.column("book_id"))


def in_sql() -> bool:
    query = sa.select(sa.func.count()).select_from(trades).filter_by(**where)
    with engine.connect() as conn:
        return conn.scalar(query) == 1


wait_for("SQL trades", in_sql)
