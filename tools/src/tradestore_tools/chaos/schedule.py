"""The fault schedule: which fault, when, for how long; pure and reproducible from a seed."""

from __future__ import annotations

import enum
import random
from collections.abc import Collection
from dataclasses import dataclass


class FaultKind(enum.StrEnum):
    """Every fault the run injects (the broker itself is never killed: its storage is memory only)."""

    KILL_MONGO_CONSUMER = "kill kafkaconsumer"
    KILL_SQL_CONSUMER = "kill kafkaconsumermssql"
    MONGO_RESTART = "mongo stop/start"
    POSTGRES_RESTART = "postgres stop/start"
    API_BROKER_DROP = "api-broker link drop"
    API_BROKER_STALL = "api-broker link stall"
    CONSUMER_BROKER_DROP = "consumers-broker link drop"
    CONSUMER_BROKER_STALL = "consumers-broker link stall"
    SLOW_MONGO_LINK = "slow mongo link"
    SLOW_SQL_LINK = "slow sql link"
    # churn: group membership changes (shared.consumer static members; tradestore_tools.chaos.fleet)
    SCALE_MONGO_CONSUMERS = "scale kafkaconsumer down/up"
    SCALE_SQL_CONSUMERS = "scale kafkaconsumermssql down/up"
    JOIN_MONGO_CONSUMER = "new-id join kafkaconsumer"
    JOIN_SQL_CONSUMER = "new-id join kafkaconsumermssql"


# Faults on one target never overlap (a server cannot be stopped twice); faults on different targets may.
TARGET = {
    FaultKind.KILL_MONGO_CONSUMER: "kafkaconsumer",
    FaultKind.KILL_SQL_CONSUMER: "kafkaconsumermssql",
    FaultKind.MONGO_RESTART: "mongo",
    FaultKind.POSTGRES_RESTART: "postgres",
    FaultKind.API_BROKER_DROP: "api-link",
    FaultKind.API_BROKER_STALL: "api-link",
    FaultKind.CONSUMER_BROKER_DROP: "consumer-link",
    FaultKind.CONSUMER_BROKER_STALL: "consumer-link",
    FaultKind.SLOW_MONGO_LINK: "mongo-link",
    FaultKind.SLOW_SQL_LINK: "sql-link",
    FaultKind.SCALE_MONGO_CONSUMERS: "kafkaconsumer",
    FaultKind.SCALE_SQL_CONSUMERS: "kafkaconsumermssql",
    FaultKind.JOIN_MONGO_CONSUMER: "kafkaconsumer",
    FaultKind.JOIN_SQL_CONSUMER: "kafkaconsumermssql",
}
NEW_ID = frozenset({FaultKind.JOIN_MONGO_CONSUMER, FaultKind.JOIN_SQL_CONSUMER})
CHURN = frozenset(
    {
        FaultKind.KILL_MONGO_CONSUMER,
        FaultKind.KILL_SQL_CONSUMER,
        FaultKind.SCALE_MONGO_CONSUMERS,
        FaultKind.SCALE_SQL_CONSUMERS,
        FaultKind.JOIN_MONGO_CONSUMER,
        FaultKind.JOIN_SQL_CONSUMER,
    }
)


@dataclass(frozen=True)
class Fault:
    """One planned fault: start `at_s` seconds after the run began, last `duration_s`."""

    at_s: float
    kind: FaultKind
    duration_s: float
    latency_s: float = 0.0  # slow links only

    @property
    def target(self) -> str:
        return TARGET[self.kind]


def plan_faults(
    count: int,
    window_s: float,
    seed: int,
    duration_s: tuple[float, float] = (0.5, 3.0),
    latency_s: tuple[float, float] = (0.05, 0.3),
    kinds: Collection[FaultKind] = (),
) -> list[Fault]:
    """`count` faults at uniform random moments of [0, window_s], sorted by start.

    Every kind appears at least once when count >= the number of kinds (a shuffled round of every
    kind first, then random kinds), so a short run still exercises them all. `kinds` limits the choice
    (default: every kind).
    """
    rng = random.Random(seed)
    allowed = [k for k in FaultKind if not kinds or k in kinds]
    order = list(allowed)
    rng.shuffle(order)
    chosen = order[:count] + [rng.choice(allowed) for _ in range(count - len(order))]
    faults = []
    for kind in chosen:
        slow = kind in (FaultKind.SLOW_MONGO_LINK, FaultKind.SLOW_SQL_LINK)
        faults.append(
            Fault(
                at_s=round(rng.uniform(0, window_s), 3),
                kind=kind,
                duration_s=round(rng.uniform(*duration_s), 3),
                latency_s=round(rng.uniform(*latency_s), 3) if slow else 0.0,
            )
        )
    return sorted(faults, key=lambda f: f.at_s)
