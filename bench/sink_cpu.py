"""Benchmark: the consumer's CPU per trade for one batch pipeline (decode, plan, versions read, write, outcome
events, offsets) against the store's raw write of the same records, with no broker and no wall clock: the
figure that stays comparable on a machine shared with other work (2 cores, other helpers' tests).

Runs `BatchPipeline.process` of the checkout on PYTHONPATH over --batches batches of --batch fresh trades
(a SQLite file, or the SQL_URL database when given), with a producer that acknowledges at once (the checkout's
own TradeProducer.send_many and delivery callbacks over a librdkafka stand-in, no network), then the store's
raw write (`SqlStore.write` of records built beforehand) of as many other fresh trades. Prints the minimum of
--repeat runs of each, as CPU microseconds per trade of this process, and their ratio (raw / sink: the share
of the sink's CPU that is the store's own write). A program, not a test.

    PYTHONPATH=CHECKOUT/src python bench/sink_cpu.py [--batch 1000] [--batches 10] [--repeat 5]

With --stages it prints instead the CPU per trade of each pure step (poll's records, decode, plan, outcome
events, their publishing), min of 30 runs over one batch.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from sink_drain import fresh_trade  # bench/ is this program's first path entry


def records(prefix: str, n: int) -> list[tuple[str, int, int, bytes, bytes]]:
    out = []
    for i in range(n):
        t = fresh_trade(f"{prefix}-{i}", i)
        out.append(("trades", i % 4, i, t.kafka_key(), orjson.dumps(t.to_message())))
    return out


def instant_producer() -> Any:
    """A TradeProducer running the checkout's own send_many (partitioner, one produce per record, delivery
    reports through its callbacks) over a librdkafka stand-in that acknowledges every record at once."""
    from shared.kafka import TradeProducer

    class Acknowledging:
        def produce(self, topic: str, value: Any, key: Any, partition: int = -1, **kw: Any) -> None:
            kw["on_delivery"](None, None)

    class Instant(TradeProducer):
        def __init__(self) -> None:  # no librdkafka producer, no delivery thread
            self._producer = Acknowledging()
            self._partitions = {"dlq": 4, "outcomes": 4}
            self._block_on_metadata = True
            self._fatal = None

    return Instant()


def sink_cpu(store: Any, batches: list[list[Any]]) -> float:
    from shared.consumer.batch import Inbound
    from shared.consumer.dlq import DeadLetterPublisher
    from shared.consumer.metrics import RuntimeMetrics
    from shared.consumer.outcomes import OutcomePublisher
    from shared.consumer.pipeline import BatchPipeline

    producer = instant_producer()
    pipeline = BatchPipeline(
        store,
        DeadLetterPublisher(producer, "dlq", store.name),
        RuntimeMetrics(store.name),
        lambda: date(2026, 11, 30),
        lambda: datetime.now(UTC),
        OutcomePublisher(producer, "outcomes"),
    )
    started = time.process_time()
    for raw in batches:
        inbound = [Inbound(*r) for r in raw]  # what positions.to_inbound builds per polled record
        pipeline.process(inbound, lambda action, store=True: action(), lambda: None)
    return (time.process_time() - started) / sum(map(len, batches)) * 1e6


def raw_cpu(store: Any, batches: list[list[Any]]) -> float:
    from shared.ports import StoredTrade
    from shared.schema import TradePayload

    now = datetime.now(UTC)
    prepared = [
        [StoredTrade(TradePayload.model_validate(orjson.loads(r[4])), r[1], r[2], now) for r in raw]
        for raw in batches
    ]
    started = time.process_time()
    for part in prepared:
        store.write(part)
    return (time.process_time() - started) / sum(map(len, batches)) * 1e6


def stages(batch: int, repeat: int) -> str:
    """CPU microseconds per trade of each pure step of the pipeline on one batch (min of `repeat`): no store,
    the outcome events of a batch the store took whole, published through `instant_producer`."""
    from shared.consumer.batch import Inbound, decode_batch, plan_writes
    from shared.consumer.outcomes import OutcomePublisher, outcome_events
    from shared.ports import WriteResult

    raw = records("P", batch)
    today, now = date(2026, 11, 30), datetime.now(UTC)
    inbound = [Inbound(*r) for r in raw]
    decoded = decode_batch(inbound, today)
    plan = plan_writes(decoded.trades, {}, now)
    events = outcome_events("sql", plan, WriteResult(batch), [], {}, [])
    publisher = OutcomePublisher(instant_producer(), "outcomes")
    steps = {
        "inbound": lambda: [Inbound(*r) for r in raw],
        "decode": lambda: decode_batch(inbound, today),
        "plan": lambda: plan_writes(decoded.trades, {}, now),
        "events": lambda: outcome_events("sql", plan, WriteResult(batch), [], {}, []),
        "publish": lambda: publisher.publish(events),
    }
    out = []
    for name, step in steps.items():
        best = float("inf")
        for _ in range(repeat):
            started = time.process_time()
            step()
            best = min(best, time.process_time() - started)
        out.append(f"{name}={best / batch * 1e6:.2f}")
    return "stages_us " + " ".join(out)


def split(rows: list[Any], size: int) -> list[list[Any]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--url", help="SQL URL (default: a new SQLite file)")
    parser.add_argument("--stages", action="store_true", help="only each pure step's CPU per trade (30 runs)")
    args = parser.parse_args()
    if args.stages:
        print(stages(args.batch, 30), flush=True)
        return
    from shared.stores.sql.engine import make_engine
    from shared.stores.sql.store import SqlStore

    with tempfile.TemporaryDirectory(prefix="bench-sinkcpu-") as tmp:
        store = SqlStore(make_engine(args.url or f"sqlite:///{Path(tmp) / 'cpu.db'}"))
        store.setup()
        sink, raw = [], []
        n = args.batch * args.batches
        for r in range(args.repeat + 1):  # round 0 warms the templates and caches up
            s = sink_cpu(store, split(records(f"S{r}", n), args.batch))
            w = raw_cpu(store, split(records(f"R{r}", n), args.batch))
            if r:
                sink.append(s)
                raw.append(w)
        store.close()
    print(
        f"sinkcpu {store.dialect} sink_us={min(sink):.1f} raw_us={min(raw):.1f} "
        f"raw/sink={min(raw) / min(sink):.2f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
