"""The expiry job: flip `expired` to true in both stores once a trade's maturity date has passed.

Set-based and idempotent (one UPDATE / update_many per store), with the clock injected, so it can run
at start, daily inside the stack, and from cron (`tradestore expire`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from shared.ports import TradeAudit

log = logging.getLogger("tradestore.expiry")


def expire_all(readers: Sequence[TradeAudit], today: date) -> dict[str, int]:
    """Run the expiry in every store; how many trades each one flipped."""
    flipped = {reader.name: reader.expire(today) for reader in readers}
    log.info("expiry for %s: %s", today, ", ".join(f"{k}={v}" for k, v in flipped.items()))
    return flipped


def seconds_to_next_run(now: datetime, at: timedelta = timedelta(minutes=5)) -> float:
    """Seconds until the next daily run, a few minutes after UTC midnight."""
    next_day = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC) + at
    return max((next_day - now).total_seconds(), 1.0)


class ExpiryScheduler:
    """A daemon thread: run at start, then daily; errors are logged and retried at the next run."""

    def __init__(self, readers: Sequence[TradeAudit], now: Callable[[], datetime] | None = None) -> None:
        self.readers = readers
        self.now = now or (lambda: datetime.now(UTC))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="expiry", daemon=True)
        self.runs = 0

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                expire_all(self.readers, self.now().date())
                self.runs += 1
            except Exception:  # a store may be down; the next run tries again
                log.exception("expiry run failed; retrying at the next run")
            self._stop.wait(seconds_to_next_run(self.now()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
