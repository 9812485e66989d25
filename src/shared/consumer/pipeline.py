"""One batch, in this order: decode, plan, write, dead-letter, store offsets.

The pipeline owns no loop and no consumer: the runtime (shared.consumer.runtime) hands it a batch, a
`retry` that repeats a store call while the store is unavailable (and raises Abandoned on stop or
revocation), and a `commit` that stores the batch's offsets. Nothing is committed before the writes
and the dead letters are acknowledged, so a crash anywhere re-reads the batch (writes are idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Protocol, TypeVar

from shared.consumer.batch import DeadLetter, Inbound, Plan, Reason, decode_batch, plan_writes, split_replays
from shared.consumer.dlq import DeadLetterPublisher
from shared.consumer.isolation import write_isolating
from shared.consumer.metrics import RuntimeMetrics
from shared.consumer.outcomes import OutcomePublisher, outcome_events
from shared.ports import TradeWriter, WriteResult

log = logging.getLogger("shared.consumer")
T = TypeVar("T")


class Retry(Protocol):
    """Run a call until it stops raising StoreUnavailable (or the batch is abandoned); `store=False` for a
    publish (dead letters, outcomes), whose failure or success says nothing of the store's health."""

    def __call__(self, action: Callable[[], T], store: bool = True) -> T: ...


class BatchPipeline:
    """Decide and persist one batch through a TradeWriter, dead-letter what is refused."""

    def __init__(
        self,
        writer: TradeWriter,
        dlq: DeadLetterPublisher,
        metrics: RuntimeMetrics,
        today: Callable[[], date],
        now: Callable[[], datetime],
        outcomes: OutcomePublisher | None = None,
    ) -> None:
        self.writer, self.dlq, self.metrics = writer, dlq, metrics
        self.today, self.now = today, now
        self.outcomes = outcomes

    def process(self, records: Sequence[Inbound], retry: Retry, commit: Callable[[], None]) -> None:
        """Decode, plan, write, dead-letter, then `commit` (store offsets)."""
        self.metrics.consumed.inc(len(records))
        decoded = decode_batch(records, self.today())
        ids = {trade.trade_id for _, trade in decoded.trades}
        stored = retry(lambda: self.writer.max_versions(ids)) if ids else {}
        plan = plan_writes(decoded.trades, stored, self.now())
        result = retry(lambda: write_isolating(self.writer, plan.writes)) if plan.writes else WriteResult(0)
        stale, refused = outcome_letters(plan, result)
        rejected: list[DeadLetter] = plan.rejected + stale
        replays: list[DeadLetter] = []
        if rejected:
            keys = {letter.trade.key for letter in rejected if letter.trade is not None}
            origins = retry(lambda: self.writer.stored_origins(keys))
            rejected, replays = split_replays(rejected, origins)
        letters = decoded.dead + rejected + refused
        if letters:
            retry(lambda: self.dlq.publish(letters), store=False)
        if self.outcomes is not None:  # one verdict per record, acknowledged before the offsets are stored
            publisher, events = (
                self.outcomes,
                outcome_events(self.writer.name, plan, result, letters, stored, replays),
            )
            retry(lambda: publisher.publish(events), store=False)
        commit()
        self._count(len(plan.writes) - len(stale) - len(refused), letters, len(replays))

    def _count(self, persisted: int, letters: Sequence[DeadLetter], replays: int) -> None:
        self.metrics.persisted.inc(persisted)
        for letter in letters:
            self.metrics.dead_lettered(letter.reason.value)
            r = letter.record
            name = self.writer.name
            log.warning(
                "%s dead-lettered %s[%d]@%d: %s (%s)",
                name,
                r.topic,
                r.partition,
                r.offset,
                letter.reason,
                letter.detail,
            )
        if replays:
            self.metrics.replayed.inc(replays)
            log.info("%s: %d redelivered record(s) already stored, acknowledged", self.writer.name, replays)


def outcome_letters(plan: Plan, result: WriteResult) -> tuple[list[DeadLetter], list[DeadLetter]]:
    """Dead letters of the planned writes the store did not take: (stale, refused), one per record."""
    stale: list[DeadLetter] = []
    refused: list[DeadLetter] = []
    for record, source in zip(plan.writes, plan.sources, strict=True):
        key = record.key
        if key in result.stale:
            detail = f"version {key[1]} < stored {result.stale[key]} for {key[0]} (store race guard)"
            stale.append(DeadLetter(source, Reason.LOWER_VERSION, detail, record.trade))
        elif key in result.refused:
            refused.append(DeadLetter(source, Reason.STORE_REJECTED, result.refused[key], record.trade))
    return stale, refused
