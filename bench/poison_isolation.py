"""Benchmark: the time to isolate one record the store refuses in a batch of N (issue 13, poison isolation).

Two stores, the culprit first, in the middle and last:
- MongoDB (nx-27017 started here): the bulk write names the refused document itself, so no split;
  compared with the same batch without a culprit.
- a store refusing whole batches (StoreRejected, as a SQL statement does; the in-memory fake of the
  tests), so the pipeline bisects: the figure is the number of write calls and their time.
A program, not a test: figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from shared.consumer.isolation import write_isolating
from shared.ports import StoredTrade
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.settings import Settings
from shared.stores import open_store
from tradestore.local.mongo import EmbeddedMongo
from tradestore.local.process import free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fixtures.fake_store import FakeStore


def batch(n: int, tag: str) -> list[StoredTrade]:
    now = datetime.now(UTC)
    return [
        StoredTrade(
            TradePayload.model_validate(
                {**SAMPLE_TRADE, "trade_id": f"{tag}-{i:05d}", "counterparty_id": f"CP-{tag}-{i:05d}"}
            ),
            0,
            i,
            now,
        )
        for i in range(n)
    ]


def mongo_figures(url: str, n: int) -> None:
    store = open_store(Settings(mongo_url=SecretStr(url), mongo_db="bench_poison"), "mongo")
    store.setup()
    t0 = time.perf_counter()
    store.write(batch(n, "clean"))
    clean = time.perf_counter() - t0
    from pymongo import MongoClient

    client: MongoClient[dict[str, object]] = MongoClient(url)
    coll = client["bench_poison"]["trades"]
    coll.create_index("counterparty_id", unique=True)  # stands for any per-document refusal
    for where, index in (("first", 0), ("middle", n // 2), ("last", n - 1)):
        coll.insert_one({"_id": f"blocker-{where}", "counterparty_id": f"CP-{where}-{index:05d}"})
        t0 = time.perf_counter()
        result = write_isolating(store, batch(n, where))
        took = time.perf_counter() - t0
        print(
            f"mongo  culprit {where:6}: {result.written} stored, {len(result.refused)} refused, "
            f"{took:.2f}s (clean batch {clean:.2f}s)"
        )
    client.close()
    store.close()


def bisect_figures(n: int) -> None:
    for where, index in (("first", 0), ("middle", n // 2), ("last", n - 1)):
        store = FakeStore(batch_refusal=True)
        records = batch(n, where)
        store.poison.add(records[index].trade.trade_id)
        t0 = time.perf_counter()
        result = write_isolating(store, records)
        took = time.perf_counter() - t0
        print(
            f"bisect culprit {where:6}: {result.written} stored, {len(result.refused)} refused, "
            f"{store.writes} write calls, {took * 1000:.1f} ms (in memory)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000, help="records in the batch")
    args = parser.parse_args()
    bisect_figures(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        mongo = EmbeddedMongo("127.0.0.1", free_port(), Path(tmp) / "mongo")
        mongo.start()
        try:
            mongo_figures(mongo.url, args.n)
        finally:
            mongo.stop()


if __name__ == "__main__":
    main()
