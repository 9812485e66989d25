"""The SQL sink on the shared consumer runtime, against a real broker (Tansu) and real databases."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fixtures.consumers import numbered_trade, running_runtime
from fixtures.mongo import settings_env, wait_until
from fixtures.sql import create_database
from shared.consumer import ConsumerRuntime
from shared.kafka import TradeProducer
from shared.settings import Settings
from shared.stores import open_writer
from shared.stores.sql.schema import trades_table
from tradestore.local.postgres import EmbeddedPostgres
from tradestore.local.process import free_port
from tradestore.local.services import ServiceProcess

needs_embedded_postgres = pytest.mark.skipif(
    bool(os.environ.get("SQL_URL")), reason="stops or shares the embedded PostgreSQL server"
)


trade = numbered_trade


def sql_settings(bootstrap: str, topic: str, dlq: str, url: str, **extra: Any) -> Settings:
    """A test consumer: uuid group, short batches and retries."""
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "trades_topic": topic,
        "trades_dlq_topic": dlq,
        "sql_url": url,
        "consumer_group": f"tradestore-sql-test-{uuid.uuid4().hex[:8]}",
        "consumer_batch_timeout_ms": 50,
        "consumer_retry_initial_s": 0.1,
        "consumer_retry_max_s": 0.5,
        "tradestore_env": "test",
        **extra,
    }
    return Settings(**values)


class Table:
    """Reads the trades table from outside the consumer, as a user's check would."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, pool_pre_ping=True)
        self.table = trades_table(self.engine.dialect.name)

    def rows(self) -> list[tuple[Any, ...]]:
        t = self.table
        query = sa.select(t.c.trade_id, t.c.version, t.c.book_id, t.c.counterparty_id).order_by(
            *t.primary_key
        )
        try:
            with self.engine.connect() as conn:
                return [tuple(r) for r in conn.execute(query)]
        except sa.exc.DBAPIError:  # not created yet, or the server is stopped
            return []

    def count(self) -> int:
        return len(self.rows())

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def tables() -> Iterator[Callable[[str], Table]]:
    """`tables(url)` opens a reader of the trades table; every one is closed after the test."""
    opened: list[Table] = []

    def open_table(url: str) -> Table:
        opened.append(Table(url))
        return opened[-1]

    try:
        yield open_table
    finally:
        for table in opened:
            table.close()


def running(settings: Settings) -> AbstractContextManager[ConsumerRuntime]:
    """A ConsumerRuntime with the SQL store on a background thread; stopped and joined on exit."""
    return running_runtime(settings, open_writer(settings, "sql"))


@pytest.fixture
def settings(kafka_bootstrap: str, topic: str, dlq_topic: str, sql_url: str) -> Settings:
    return sql_settings(kafka_bootstrap, topic, dlq_topic, sql_url)


@contextmanager
def producer_for(settings: Settings) -> Iterator[Callable[..., None]]:
    producer = TradeProducer(settings)

    def send(*trades: dict[str, Any]) -> None:
        keys = [f"{t['trade_id']}:{t['version']}:{t['book_id']}".encode() for t in trades]
        for f in [
            producer.send(settings.trades_topic, value=t, key=k) for t, k in zip(trades, keys, strict=True)
        ]:
            f.result(10)

    try:
        yield send
    finally:
        producer.close()


@pytest.fixture
def send(settings: Settings) -> Iterator[Callable[..., None]]:
    with producer_for(settings) as publish:
        yield publish


def test_trades_persist_once_and_the_same_key_overrides(
    settings: Settings, send: Callable[..., None], tables: Callable[[str], Table]
) -> None:
    table = tables(settings.sql_url_value)
    send(*[trade(i) for i in range(20)], trade(1), trade(2))  # T-1 and T-2 posted twice
    with running(settings) as runtime:
        wait_until(lambda: runtime.metrics.value("tradestore_consumed_total") == 22)
        wait_until(lambda: table.count() == 20)
        send(trade(3, cp="CP-3"))
        wait_until(lambda: ("T-3", 1, "B-1", "CP-3") in table.rows())
    assert table.count() == 20
    assert len({r[0] for r in table.rows()}) == 20


def test_lower_version_goes_to_dlq_and_the_table_is_unchanged(
    settings: Settings, send: Callable[..., None], topic_reader: Any, tables: Callable[[str], Table]
) -> None:
    table = tables(settings.sql_url_value)
    send(trade(1, version=2, cp="CP-2"))
    with running(settings) as runtime:
        wait_until(lambda: table.count() == 1)
        send(trade(1, version=1, cp="CP-1"))
        wait_until(
            lambda: runtime.metrics.value("tradestore_dead_letters_total", reason="lower_version") == 1
        )
    assert table.rows() == [("T-1", 2, "B-1", "CP-2")]
    dead = topic_reader(settings.trades_dlq_topic, idle_s=0.5, count=1)
    assert [(r.headers["dlq.reason"], r.headers["dlq.sink"]) for r in dead] == [(b"lower_version", b"sql")]


def stream(send: Callable[..., None], trades: list[dict[str, Any]], pace_s: float) -> threading.Thread:
    """Publish `trades` ten at a time, `pace_s` apart, on a background thread."""

    def run() -> None:
        for i in range(0, len(trades), 10):
            send(*trades[i : i + 10])
            time.sleep(pace_s)  # pacing of the producer, not a wait for a result

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@needs_embedded_postgres
def test_postgres_stopped_mid_stream_then_restarted_every_trade_present_once(
    kafka_bootstrap: str,
    topic: str,
    dlq_topic: str,
    postgres_server: EmbeddedPostgres,
    tables: Callable[[str], Table],
) -> None:
    settings = sql_settings(kafka_bootstrap, topic, dlq_topic, create_database(postgres_server))
    table = tables(settings.sql_url_value)
    with producer_for(settings) as send, running(settings) as runtime:
        send(*[trade(i) for i in range(100)])
        wait_until(lambda: runtime.metrics.value("tradestore_persisted_total") >= 100)
        postgres_server.stop()
        try:
            flow = stream(send, [trade(i) for i in range(100, 300)], 0.1)  # trades keep coming meanwhile
            wait_until(lambda: runtime.metrics.value("tradestore_retries_total") >= 3, 15)
            assert not runtime.ready()
        finally:
            postgres_server.start()
        flow.join(30)
        wait_until(lambda: table.count() == 300, 30)
        wait_until(runtime.ready, 10)
    assert len({r[0] for r in table.rows()}) == 300


@needs_embedded_postgres
def test_consumer_killed_mid_batch_then_restarted_every_trade_present_once(
    kafka_bootstrap: str,
    topic: str,
    dlq_topic: str,
    postgres_server: EmbeddedPostgres,
    tmp_path: Path,
    tables: Callable[[str], Table],
) -> None:
    settings = sql_settings(
        kafka_bootstrap,
        topic,
        dlq_topic,
        create_database(postgres_server),
        consumer_instance_id="sql-kill-1",
        consumer_batch_size=20,
    )
    table = tables(settings.sql_url_value)

    def consumer() -> ServiceProcess:
        port = free_port()
        env = {**settings_env(settings), "METRICS_PORT": str(port)}
        return ServiceProcess("consume-sql", ["consume", "sql"], "127.0.0.1", port, tmp_path, env=env)

    first = consumer()
    second = consumer()
    try:
        first.start(30)
        with producer_for(settings) as send:
            flow = stream(send, [trade(i) for i in range(400)], 0.05)  # ~2 s of flow
            wait_until(lambda: table.count() >= 100)
            first.kill()
            killed_at = table.count()
            second.start(30)
            flow.join(30)
        wait_until(lambda: table.count() == 400, 40)
    finally:
        first.stop()
        second.stop()
    assert killed_at < 400
    assert len({r[0] for r in table.rows()}) == 400
