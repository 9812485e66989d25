"""`tradestore up`'s lag status line: per sink and partition, printed only when it changed."""

from __future__ import annotations

from shared.operations.lag import PartitionLag
from shared.operations.reading import BrokerUnavailable
from shared.settings import Settings
from tradestore.local.status import LagStatus, lag_line


def lags(mongo: list[int], sql: list[int]) -> list[PartitionLag]:
    rows = [PartitionLag("tradestore-mongo", p, 10, 10 + n) for p, n in enumerate(mongo)]
    return rows + [PartitionLag("tradestore-sql", p, 10, 10 + n) for p, n in enumerate(sql)]


def test_lag_line_gives_each_sink_its_total_and_its_partitions() -> None:
    line = lag_line(Settings(), lags([0, 3], [1, 1]))
    assert line == "lag  mongo 3 (p0 0, p1 3) | sql 2 (p0 1, p1 1)"
    assert lag_line(Settings(), []) == "lag  mongo 0 (no partitions) | sql 0 (no partitions)"


def test_lag_never_reads_negative_when_the_watermark_lags() -> None:
    line = lag_line(Settings(), [PartitionLag("tradestore-mongo", 0, 11, 10)])
    assert line.startswith("lag  mongo 0 (p0 0)")


def test_status_prints_on_change_at_most_every_interval() -> None:
    now = [0.0]
    figures = [lags([2], [0]), lags([2], [0]), lags([0], [0])]
    asked: list[int] = []
    printed: list[str] = []

    def measure(_settings: Settings) -> list[PartitionLag]:
        asked.append(1)
        return figures[len(asked) - 1]

    status = LagStatus(Settings(), printed.append, every_s=15, clock=lambda: now[0], measure=measure)
    status.tick()
    status.tick()  # within the interval: not asked again
    now[0] = 15.0
    status.tick()  # same figures: nothing printed
    now[0] = 30.0
    status.tick()
    assert len(asked) == 3
    assert printed == ["lag  mongo 2 (p0 2) | sql 0 (p0 0)", "lag  mongo 0 (p0 0) | sql 0 (p0 0)"]


def test_an_unreachable_broker_is_reported_not_raised() -> None:
    printed: list[str] = []

    def down(_settings: Settings) -> list[PartitionLag]:
        raise BrokerUnavailable("broker unreachable: timed out")

    LagStatus(Settings(), printed.append, measure=down).tick()
    assert printed == ["lag  unknown (broker unreachable: timed out)"]
