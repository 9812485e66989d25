"""`tradestore up`'s running status: consumer lag per sink and partition, printed when it changes.

The figures come from shared.operations.lag (each sink group's committed offset against the partition's
high watermark, the console's source too). On Tansu a high watermark can read one record short, so a
lag of 0 means "at most a record behind" (docs/operations.md); the per-consumer gauge
`tradestore_consumer_lag{sink,topic,partition}` on each consumer's /metrics has the same caveat.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from shared.operations.lag import PartitionLag, consumer_lag, sink_groups
from shared.operations.reading import BrokerUnavailable
from shared.settings import Settings

log = logging.getLogger("tradestore.local.stack")
STATUS_EVERY_S = 15.0  # how often `up` asks for the lag (a line is printed only when it changed)


def lag_line(settings: Settings, lags: list[PartitionLag]) -> str:
    """`lag  mongo 0 (p0 0, p1 0, ...) | sql 3 (p0 3, ...)`: total then per partition, for each sink."""
    by_group: dict[str, list[PartitionLag]] = {}
    for item in lags:
        by_group.setdefault(item.group, []).append(item)
    parts = []
    for sink, group in sink_groups(settings).items():
        rows = sorted(by_group.get(group, []), key=lambda r: r.partition)
        detail = ", ".join(f"p{r.partition} {r.lag}" for r in rows)
        parts.append(f"{sink} {sum(r.lag for r in rows)} ({detail or 'no partitions'})")
    return "lag  " + " | ".join(parts)


class LagStatus:
    """Call `tick()` from the supervision loop; it prints a lag line at most every `every_s` seconds,
    and only when the line differs from the last one printed."""

    def __init__(
        self,
        settings: Settings,
        out: Callable[[str], None],
        every_s: float = STATUS_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
        measure: Callable[[Settings], list[PartitionLag]] | None = None,
    ) -> None:
        self.settings, self.out, self.every_s, self.clock = settings, out, every_s, clock
        self.measure = measure or (lambda s: consumer_lag(s, timeout_s=2.0))  # short: the loop supervises
        self._next = 0.0
        self.last: str | None = None

    def tick(self) -> None:
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self.every_s
        try:
            line = lag_line(self.settings, self.measure(self.settings))
        except BrokerUnavailable as exc:
            line = f"lag  unknown ({exc})"
        if line != self.last:
            self.last = line
            self.out(line)
