"""Raw write rates of each store, no Kafka and no sink: the yardstick the sink rows are compared with.

Mongo: the store's own write of fresh trades (first heads inserted, then upserts on `_id`:
shared.stores.mongo_writes), and, as a yardstick that does not move with the store's design, plain inserts
of the same documents (`mongo_docs_rate`: what the raw figure was before the version guard, 25dce28).
SQL: the sink's own write function (`SqlStore.write`: rows, the conditional upsert statement, the keys it
returns; one transaction per batch), and, as the yardstick before session 4, the upsert statement alone on
rows built before the clock starts (`sql_statement_rate`). bench/mongo_sink.py, bench/sql_sink.py and
bench/sink_drain.py print them too.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from pymongo import MongoClient

from shared.ports import StoredTrade
from shared.schema import TradePayload


def trade(i: int, book: str = "B-1") -> TradePayload:
    return TradePayload(
        trade_id=f"T-{i}",
        counterparty_id="CP-1",
        book_id=book,
        version=1,
        maturity_date="2030-01-15",
        created_date="2025-09-28",
    )


def mongo_raw_rate(url: str, n: int, batch: int, upsert_only: bool = False) -> float:
    """Writes/s of unordered bulk_write batches straight to the server, same batch size and documents."""
    from shared.stores.mongo_mapping import replace_by_key
    from shared.stores.mongo_writes import write_batch

    client: MongoClient[dict[str, object]] = MongoClient(url)
    coll = client[f"bench_raw_{uuid.uuid4().hex[:6]}"]["trades"]
    coll.create_index([("trade_id", 1), ("version", 1), ("book_id", 1)], unique=True)
    now = datetime.now(UTC)
    records = [StoredTrade(trade(i, "B-raw"), 0, i, now) for i in range(n)]
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        chunk = records[i : i + batch]
        if upsert_only:  # upserts filtered on the business key, for reference
            coll.bulk_write([replace_by_key(r) for r in chunk], ordered=False)
        else:  # fresh trades: the sink's max_versions finds none of them, so their first heads are inserted
            write_batch(coll, coll.database["trades_heads"], chunk, {r.trade.trade_id for r in chunk})
    elapsed = time.perf_counter() - t0
    client.close()
    return n / elapsed


def mongo_docs_rate(url: str, n: int, batch: int) -> float:
    """Documents/s of unordered bulk inserts of the same documents: no head, no upsert (25dce28's raw)."""
    from pymongo import InsertOne

    from shared.stores.mongo_mapping import to_document

    client: MongoClient[dict[str, object]] = MongoClient(url)
    coll = client[f"bench_docs_{uuid.uuid4().hex[:6]}"]["trades"]
    coll.create_index([("trade_id", 1), ("version", 1), ("book_id", 1)], unique=True)
    now = datetime.now(UTC)
    records = [StoredTrade(trade(i, "B-raw"), 0, i, now) for i in range(n)]
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        coll.bulk_write([InsertOne(to_document(r)) for r in records[i : i + batch]], ordered=False)
    elapsed = time.perf_counter() - t0
    client.close()
    return n / elapsed


def sql_raw_rate(url: str, n: int, batch: int) -> float:
    """Rows/s of the sink's own write function (SqlStore.write, one transaction per batch) on records
    built before the clock starts, as the sink hands them over: no Kafka, no decoding, no version lookup."""
    from shared.stores.sql.engine import make_engine
    from shared.stores.sql.migrate import upgrade
    from shared.stores.sql.store import SqlStore

    engine = make_engine(url)
    upgrade(engine)
    store = SqlStore(engine)
    now = datetime.now(UTC)
    records = [StoredTrade(trade(i, f"B-{i % 7}"), 0, i, now) for i in range(n)]
    started = time.perf_counter()
    for i in range(0, n, batch):
        store.write(records[i : i + batch])
    elapsed = time.perf_counter() - started
    store.close()
    return n / elapsed


def sql_statement_rate(url: str, n: int, batch: int) -> float:
    """Rows/s of the sink's upsert statement alone on rows built before the clock starts (the raw SQL
    figure before session 4: it left out the rows and the returned keys that SqlStore.write handles)."""
    from shared.stores.sql.engine import make_engine
    from shared.stores.sql.mapper import chunks, to_rows
    from shared.stores.sql.migrate import upgrade
    from shared.stores.sql.statements import (
        chunk_sizes,
        max_rows_per_statement,
        upsert_params,
        upsert_statement,
    )

    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    rows = to_rows(StoredTrade(trade(i, f"B-{i % 7}"), 0, i, now) for i in range(n))
    limit = max_rows_per_statement(engine.dialect.name)
    started = time.perf_counter()
    for part in chunks(rows, batch):
        with engine.begin() as conn:
            start = 0
            for size in chunk_sizes(len(part), limit):
                statement = upsert_statement(engine.dialect.name, size)
                conn.execute(statement, upsert_params(engine.dialect.name, part[start : start + size])).all()
                start += size
    elapsed = time.perf_counter() - started
    engine.dispose()
    return n / elapsed
