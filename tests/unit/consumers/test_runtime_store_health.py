"""What the consumer reports about its store (readiness, `tradestore_store_up`, the "store reachable" and
"store unreachable" log lines) follows store calls only: a dead-letter or outcome publish that succeeds or
fails says nothing of the store. Before, any retried call marked the store reachable (a batch of bad
records only made a consumer whose store was down answer ready) and a dead-letter topic outage marked the
store unreachable."""

from __future__ import annotations

import logging

import pytest

from unit.consumers.test_runtime import Msg, inbound, make, msg


def store_state(runtime: object) -> tuple[bool, float]:
    return runtime.ready(), runtime.metrics.value("tradestore_store_up")  # type: ignore[attr-defined]


def test_a_batch_of_bad_records_only_does_not_make_a_store_that_is_down_reachable() -> None:
    runtime, consumer, sink, producer = make()
    runtime.run()
    runtime._stop.clear()
    sink.ping_fails = True
    consumer.clock.t += 10
    consumer.consume = lambda num_messages, timeout: []  # type: ignore[method-assign]
    runtime.poll_once()  # the idle ping finds the store down
    assert store_state(runtime) == (False, 0.0)
    runtime.process(inbound([Msg(0, b"not json", b"T-1:1:B-1")]))  # dead-lettered without a store call
    assert [s["headers"]["dlq.reason"] for s in producer.sent] == [b"undecodable"]
    assert store_state(runtime) == (False, 0.0)


def test_a_dead_letter_topic_outage_retries_without_marking_the_store_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime, _consumer, sink, producer = make()
    runtime.run()
    runtime._stop.clear()
    assert store_state(runtime) == (True, 1.0)
    producer.unacked = 2  # the first two dead-letter sends are never acknowledged
    bad = Msg(0, b"not json", b"T-1:1:B-1")
    with caplog.at_level(logging.INFO, logger="shared.consumer"):
        runtime.process(inbound([bad, msg(1)]))
    assert store_state(runtime) == (True, 1.0)
    assert runtime.metrics.value("tradestore_retries_total") == 2
    lines = [r.getMessage() for r in caplog.records]
    assert not [line for line in lines if "store unreachable" in line or "store unavailable" in line]
    assert sum("fake publish unavailable (attempt" in line for line in lines) == 2
    assert len(sink.rows) == 1
