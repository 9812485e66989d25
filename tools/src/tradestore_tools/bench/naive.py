"""The naive reference of issue 14: the design a reader of the test document writes first.

API: FastAPI + the pydantic model + kafka-python, `send().get()` per request in a plain `def` endpoint
(FastAPI runs it in its thread pool), served by uvicorn with its defaults. Consumers: kafka-python,
one message at a time, one write per message (MongoDB `replace_one(upsert=True)`, SQL one INSERT and
commit per message). `tradestore bench` runs it next to TradeStore on the same broker and stores.

    python -m tradestore_tools.bench.naive api PORT BOOTSTRAP TOPIC
    python -m tradestore_tools.bench.naive consume mongo|sql URL BOOTSTRAP TOPIC
"""

from __future__ import annotations

import json
import sys
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # type: ignore[import-untyped]
from pymongo import MongoClient

from shared.schema import TradePayload


def make_app(bootstrap: str, topic: str) -> FastAPI:
    app = FastAPI()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/trades", status_code=201)
    def post_trade(trade: TradePayload) -> dict[str, Any]:
        value = json.dumps(trade.model_dump(mode="json")).encode()
        key = f"{trade.trade_id}:{trade.version}:{trade.book_id}".encode()
        meta = producer.send(topic, key=key, value=value).get(timeout=10)
        return {**trade.model_dump(mode="json"), "partition": meta.partition, "offset": meta.offset}

    return app


def naive_name(topic: str) -> str:
    """The naive consumers' collection and table name (nx-27017 refuses a '-' in a collection name)."""
    return f"naive_{topic.replace('-', '_')}"


def naive_table(topic: str) -> sa.Table:
    return sa.Table(
        naive_name(topic),
        sa.MetaData(),
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("body", sa.Text),
    )


def consume(kind: str, url: str, bootstrap: str, topic: str) -> None:
    # One consumer per sink reading every partition itself: kafka-python's group join is never given an
    # assignment by the embedded broker (Tansu; measured: no partition after 15 s), so a group consumer
    # here would sit idle and the naive reference would run without the consumer load it is meant to carry.
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:
        raise SystemExit(f"naive consumer: topic {topic} has no partitions")
    consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
    if kind == "mongo":
        coll: Any = MongoClient(url)["naive"][naive_name(topic)]
        for message in consumer:
            doc = json.loads(message.value)
            coll.replace_one({"_id": message.key.decode()}, doc, upsert=True)
        return
    engine = sa.create_engine(url)
    table = naive_table(topic)
    table.create(engine, checkfirst=True)
    for message in consumer:
        with engine.begin() as conn:
            conn.execute(table.insert().values(id=message.key.decode(), body=message.value.decode()))


def stored(kind: str, url: str, topic: str) -> int:
    """How many trades the naive consumer of `kind` has written so far (0 before its first write)."""
    if kind == "mongo":
        client: MongoClient[dict[str, Any]] = MongoClient(url)
        try:
            return int(client["naive"][naive_name(topic)].estimated_document_count())
        finally:
            client.close()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(naive_table(topic))).scalar_one())
    except sa.exc.DBAPIError:  # the table is not there yet
        return 0
    finally:
        engine.dispose()


def main(argv: list[str]) -> None:
    if argv[0] == "api":
        import uvicorn

        port, bootstrap, topic = int(argv[1]), argv[2], argv[3]
        uvicorn.run(make_app(bootstrap, topic), host="127.0.0.1", port=port, log_level="warning")
    else:
        consume(argv[1], argv[2], argv[3], argv[4])


if __name__ == "__main__":
    main(sys.argv[1:])
