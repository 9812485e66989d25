"""`tradestore dlq list|show|redrive` against a real broker: uuid topics, dead letters produced here."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import orjson
import pytest
from confluent_kafka import Producer

from fixtures.kafka import Record, create_topic
from shared.kafka import partition_for
from tradestore.cli import main


def dead_letter(trade_id: str, version: int, reason: str, sink: str, principal: str | None = None) -> dict:
    value = {"trade_id": trade_id, "version": version, "book_id": "B1", "counterparty_id": "CP-1"}
    headers = [
        ("dlq.reason", reason.encode()),
        ("dlq.detail", b"a higher version is stored"),
        ("dlq.sink", sink.encode()),
        ("dlq.topic", b"trades"),
        ("dlq.partition", b"0"),
        ("dlq.offset", b"7"),
    ]
    if principal:
        headers.append(("tradestore.principal", principal.encode()))
    return {"key": f"{trade_id}:{version}:B1".encode(), "value": orjson.dumps(value), "headers": headers}


@pytest.fixture
def dlq_env(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Fresh trades and DLQ topics, named to the CLI by environment; three dead letters in the DLQ."""
    suffix = uuid.uuid4().hex[:10]
    trades = create_topic(kafka_bootstrap, f"trades-{suffix}")
    dlq = create_topic(kafka_bootstrap, f"trades-{suffix}.dlq", partitions=1)
    for name, value in {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TRADES_TOPIC": trades,
        "TRADES_DLQ_TOPIC": dlq,
        "COLUMNS": "200",
    }.items():
        monkeypatch.setenv(name, value)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for letter in (
        dead_letter("T-LOW", 1, "lower_version", "mongo", principal="desk-a"),
        dead_letter("T-LOW", 1, "lower_version", "sql"),
        dead_letter("T-BAD", 3, "schema_invalid", "mongo"),
    ):
        producer.produce(dlq, partition=0, **letter)
    assert producer.flush(10) == 0
    return trades, dlq


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["dlq", *argv])
    return code, capsys.readouterr().out


def test_list_filters_by_reason_sink_and_trade_id(dlq_env: tuple[str, str], capsys) -> None:
    code, out = run(capsys, "list")
    assert code == 0
    assert "3 dead letter(s)" in out
    assert "0:0" in out
    assert "0:1" in out
    assert "0:2" in out
    _, out = run(capsys, "list", "--reason", "lower_version", "--sink", "sql")
    assert "1 dead letter(s)" in out
    assert "0:1" in out
    assert "T-LOW:1:B1" in out
    _, out = run(capsys, "list", "--trade-id", "T-BAD")
    assert "1 dead letter(s)" in out
    assert "schema_invalid" in out
    assert "T-LOW" not in out


def test_show_prints_headers_and_value(dlq_env: tuple[str, str], capsys) -> None:
    code, out = run(capsys, "show", "0:0")
    assert code == 0
    assert "dlq.reason: lower_version" in out
    assert "tradestore.principal: desk-a" in out
    assert '"trade_id":"T-LOW"' in out
    code, _ = run(capsys, "show", "0:99")
    assert code == 1


def test_redrive_dry_run_sends_nothing(
    dlq_env: tuple[str, str], capsys, topic_reader: Callable[..., list[Record]]
) -> None:
    trades, dlq = dlq_env
    code, out = run(capsys, "redrive", "--dry-run", "--trade-id", "T-LOW", "--sink", "mongo")
    assert code == 0
    assert "would send 1 record(s)" in out
    assert f"redrive.of={dlq}:0:0" in out
    assert "tradestore.principal=desk-a" in out
    assert topic_reader(trades, idle_s=0.5) == []


def test_redrive_republishes_original_key_and_value_with_its_origin(
    dlq_env: tuple[str, str], capsys, topic_reader: Callable[..., list[Record]]
) -> None:
    trades, dlq = dlq_env
    code, out = run(capsys, "redrive", "0:0", "0:2")
    assert code == 0, out
    assert out.count("acknowledged") == 2
    run(capsys, "redrive", "0:0")  # a second redrive of the same record: the sinks upsert it again
    sent = topic_reader(trades)
    low = [r for r in sent if r.key == b"T-LOW:1:B1"]
    bad = [r for r in sent if r.key == b"T-BAD:3:B1"]
    assert (len(low), len(bad), len(sent)) == (2, 1, 3)
    first = low[0]
    assert first.headers["redrive.of"] == f"{dlq}:0:0".encode()
    assert bad[0].headers["redrive.of"] == f"{dlq}:0:2".encode()
    assert first.headers["tradestore.principal"] == b"desk-a"
    assert "tradestore.principal" not in bad[0].headers
    assert orjson.loads(first.value or b"")["trade_id"] == "T-LOW"
    assert {r.partition for r in low} == {partition_for("T-LOW", 4)}  # the API's partitioner
    assert "dlq.reason" not in first.headers


def test_redrive_without_a_selection_is_refused(dlq_env: tuple[str, str], capsys) -> None:
    code = main(["dlq", "redrive"])
    assert code == 2
    assert "--all" in capsys.readouterr().err
