"""Retry policy while a store is down: capped exponential backoff with jitter, without a retry limit.

The clock and the sleeper are injected, so tests drive the policy without waiting.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from shared.errors import StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


class Abandoned(Exception):
    """The batch is given up without committing (stop requested or partitions revoked)."""


@dataclass
class Backoff:
    """Delay n (from 0) is uniform in [d/2, d] with d = min(max_s, initial_s * 2**n): capped, never zero."""

    initial_s: float
    max_s: float
    rng: random.Random = field(default_factory=random.Random)

    def ceiling(self, attempt: int) -> float:
        """The capped exponential delay before jitter."""
        return float(min(self.max_s, self.initial_s * 2.0 ** min(attempt, 62)))

    def delay(self, attempt: int) -> float:
        """The jittered delay before retry number `attempt` (0-based)."""
        ceiling = self.ceiling(attempt)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


def retry_until_done(
    action: Callable[[], T],
    backoff: Backoff,
    wait: Callable[[float], None],
    should_abandon: Callable[[], bool],
    on_failure: Callable[[int, StoreUnavailable, float], None],
) -> T:
    """Run `action` until it stops raising StoreUnavailable; raise Abandoned when `should_abandon` says so.

    `wait(delay)` sleeps (and keeps the consumer's group membership alive); `on_failure` logs and counts.
    """
    attempt = 0
    while True:
        if should_abandon():
            raise Abandoned("stop requested or partitions revoked during retry")
        try:
            return action()
        except StoreUnavailable as exc:
            delay = backoff.delay(attempt)
            on_failure(attempt + 1, exc, delay)
            attempt += 1
            wait(delay)
