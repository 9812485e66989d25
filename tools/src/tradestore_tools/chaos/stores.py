"""Store-side queries of the verification: duplicate keys asked of each store, and waiting until settled."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from pymongo.errors import PyMongoError

from kafkaconsumer.reader import MongoReader
from kafkaconsumermssql.reader import SqlReader
from shared.reader import Key, StoreSummary, TradeReader, prefix_upper_bound

TRANSIENT = (PyMongoError, sa.exc.OperationalError)
SEP = "\x1f"


def mongo_duplicate_keys(reader: MongoReader, prefix: str) -> list[Key]:
    """Keys held by more than one document: group by the key, count > 1.

    The group key is one concatenated string: nx-27017 does not evaluate a compound `_id` document
    in `$group` (it groups everything under the literal {"t": "$trade_id", ...}); `$concat` works on
    both it and MongoDB. The separator is a control character, which trade identifiers never hold.
    """
    key = {"$concat": ["$trade_id", SEP, {"$toString": "$version"}, SEP, "$book_id"]}
    pipeline: list[dict[str, Any]] = [
        {"$match": {"trade_id": {"$gte": prefix, "$lt": prefix_upper_bound(prefix)}}},
        {"$group": {"_id": key, "n": {"$sum": 1}}},
        {"$match": {"n": {"$gt": 1}}},
    ]
    found = []
    for row in reader.collection.aggregate(pipeline):
        trade_id, version, book_id = str(row["_id"]).split(SEP)
        found.append((trade_id, int(version), book_id))
    return found


def sql_duplicate_keys(reader: SqlReader, prefix: str) -> list[Key]:
    """Keys held by more than one row: GROUP BY the key HAVING COUNT(*) > 1 (the PK should forbid it)."""
    t = reader.table
    query = (
        sa.select(t.c.trade_id, t.c.version, t.c.book_id)
        .where(t.c.trade_id >= prefix, t.c.trade_id < prefix_upper_bound(prefix))
        .group_by(t.c.trade_id, t.c.version, t.c.book_id)
        .having(sa.func.count() > 1)
    )
    with reader.engine.connect() as conn:
        return [(row[0], row[1], row[2]) for row in conn.execute(query)]


def duplicate_keys(reader: TradeReader, prefix: str) -> list[Key]:
    if isinstance(reader, MongoReader):
        return mongo_duplicate_keys(reader, prefix)
    if isinstance(reader, SqlReader):
        return sql_duplicate_keys(reader, prefix)
    raise TypeError(f"no duplicate-key query for {type(reader).__name__}")


def wait_settled(
    reader: TradeReader, prefix: str, expected: StoreSummary, deadline_s: float, quiet_s: float = 15.0
) -> tuple[bool, float]:
    """Poll the store's summary until it equals `expected`, or has not changed for `quiet_s`, or the
    deadline passes; (matched, seconds waited). Store errors (it may be restarting) count as "not yet"."""
    started = time.monotonic()
    last: StoreSummary | None = None
    changed = started
    while True:
        now = time.monotonic()
        try:
            got: StoreSummary | None = reader.summary(prefix)
        except TRANSIENT:
            got = None
        if got == expected:
            return True, now - started
        if got != last:
            last, changed = got, now
        if now - changed > quiet_s or now - started > deadline_s:
            return False, now - started
        time.sleep(0.5)
