"""Benchmark: what each MongoDB operation shape the sink sends costs, per operation, and on which side.

Starts its own nx-27017 (tradestore.local) in a temp dir (or uses --url), fills a collection to --size
documents, then times batches of --batch operations of each shape the MongoDB store sends (documents,
heads, the version lookups), printing per-operation microseconds of wall time, of the server's CPU
(/proc/PID/stat of the nx-27017 process we started) and of this client's CPU. A program, not a test.

    .venv/bin/python bench/mongo_ops.py [--size 10000] [--batch 500] [--rounds 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import InsertOne, MongoClient, ReplaceOne, UpdateOne
from pymongo.collection import Collection

from shared.ports import StoredTrade
from shared.stores.mongo_mapping import Document, doc_id, raise_head, replace_by_id, to_document
from tradestore.local.mongo import EmbeddedMongo
from tradestore.local.process import free_port
from tradestore_tools.bench.cpu import cpu_s
from tradestore_tools.bench.raw import trade


def record(i: int, prefix: str, version: int = 1) -> StoredTrade:
    t = trade(i, "B-1").model_copy(update={"trade_id": f"{prefix}-{i}", "version": version})
    return StoredTrade(t, 0, i, datetime.now(UTC))


class Timer:
    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid

    def run(self, name: str, ops: int, action: Callable[[], Any]) -> None:
        s0 = cpu_s(self.server_pid) if self.server_pid else 0.0
        c0, w0 = time.process_time(), time.perf_counter()
        action()
        wall, client = time.perf_counter() - w0, time.process_time() - c0
        server = (cpu_s(self.server_pid) - s0) if self.server_pid else float("nan")
        print(
            f"{name:<44} {ops / wall:>9,.0f} ops/s  wall {wall / ops * 1e6:7.0f} us/op"
            f"  server cpu {server / ops * 1e6:6.0f} us/op  client cpu {client / ops * 1e6:5.0f} us/op"
        )


def shapes(trades: Collection[Document], heads: Collection[Document], n: int, t: Timer) -> None:
    """Each shape on `n` fresh trade_ids (inserts) and then on the same ones again (updates)."""
    p = uuid.uuid4().hex[:6]
    recs = [record(i, p) for i in range(n)]
    ids = [r.trade.trade_id for r in recs]
    t.run("docs: InsertOne (new)", n, lambda: trades.bulk_write([InsertOne(to_document(r)) for r in recs]))
    recs2 = [record(i, p + "u") for i in range(n)]
    t.run(
        "docs: ReplaceOne upsert _id (new)",
        n,
        lambda: trades.bulk_write([replace_by_id(r) for r in recs2], ordered=False),
    )
    t.run(
        "docs: ReplaceOne upsert _id (existing)",
        n,
        lambda: trades.bulk_write([replace_by_id(r) for r in recs2], ordered=False),
    )
    t.run(
        "heads: UpdateOne $lte/$max upsert (new)",
        n,
        lambda: heads.bulk_write([raise_head(i, 1, 1) for i in ids], ordered=False),
    )
    t.run(
        "heads: UpdateOne $lte/$max upsert (exists)",
        n,
        lambda: heads.bulk_write([raise_head(i, 1, 1) for i in ids], ordered=False),
    )
    hid = [i + "x" for i in ids]
    t.run(
        "heads: InsertOne {_id, version} (new)",
        n,
        lambda: heads.bulk_write([InsertOne({"_id": i, "version": 1}) for i in hid], ordered=False),
    )
    t.run("heads: find _id $in (batch)", n, lambda: list(heads.find({"_id": {"$in": ids}})))
    pipeline = [
        {"$match": {"trade_id": {"$in": ids}}},
        {"$group": {"_id": "$trade_id", "m": {"$max": "$version"}}},
    ]
    t.run("trades: aggregate $in/$group max (batch)", n, lambda: list(trades.aggregate(pipeline)))
    keys = [doc_id(r.key) for r in recs2]
    t.run(
        "trades: find _id $in (batch)", n, lambda: list(trades.find({"_id": {"$in": keys}}, {"version": 1}))
    )
    t.run(
        "trades: find trade_id $in (batch)",
        n,
        lambda: list(trades.find({"trade_id": {"$in": ids}}, {"version": 1})),
    )
    t.run(
        "UpdateOne $max upsert no filter (new)",
        n,
        lambda: heads.bulk_write(
            [UpdateOne({"_id": i + "y"}, {"$max": {"version": 1}}, upsert=True) for i in ids], ordered=False
        ),
    )
    t.run(
        "ReplaceOne upsert head (new)",
        n,
        lambda: heads.bulk_write(
            [ReplaceOne({"_id": i + "z"}, {"_id": i + "z", "version": 1}, upsert=True) for i in ids],
            ordered=False,
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="an existing server (its CPU is then not measured)")
    parser.add_argument("--size", type=int, default=10_000, help="documents in the collection first")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mongo = None if args.url else EmbeddedMongo("127.0.0.1", free_port(), Path(tmp))
        if mongo is not None:
            mongo.start()
        try:
            url = args.url or (mongo.url if mongo else "")
            client: MongoClient[Document] = MongoClient(url)
            db = client[f"ops_{uuid.uuid4().hex[:6]}"]
            trades, heads = db["trades"], db["trades_heads"]
            trades.create_index([("trade_id", 1), ("version", 1), ("book_id", 1)], unique=True)
            trades.create_index([("trade_id", 1), ("version", -1)])
            fill = [record(i, "F") for i in range(args.size)]
            for i in range(0, len(fill), 1000):
                trades.bulk_write([replace_by_id(r) for r in fill[i : i + 1000]], ordered=False)
            timer = Timer(mongo.proc.pid if mongo and mongo.proc else None)
            print(f"collection holds {trades.estimated_document_count():,} documents; batch {args.batch}")
            for r in range(args.rounds):
                print(f"-- round {r + 1}")
                shapes(trades, heads, args.batch, timer)
            client.close()
        finally:
            if mongo is not None:
                mongo.stop()


if __name__ == "__main__":
    main()
