"""Fuzz the TradeData API in-process: schemathesis cases from /openapi.json, positive and negative.

Every operation is driven with FUZZ_EXAMPLES generated requests per generation mode; every
response goes through schemathesis' checks (no 5xx, status and headers documented, body matches
the documented schema, negative data rejected, auth not ignored). Used by tests/unit/test_fuzz_api.py
(100 examples) and by `tradestore fuzz` (500 by default). Needs the test extras (schemathesis).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.result import Err
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from shared.kafka import Delivery
from shared.ports import StoredTrade, TradeFilter

DEFAULT_EXAMPLES = 100

# Health checks suppressed on purpose: each example is a full in-process HTTP call (too_slow), and
# negative generation of constrained bodies discards many candidates (filter_too_much,
# large_base_example). Neither means the generated data is wrong; the example count is still honoured.
SUPPRESSED = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.large_base_example]


# Schema-valid bodies that TradeData refuses on purpose (422): the trade rules JSON Schema cannot state
# (created_date <= today <= ..., maturity_date >= created_date, no control characters or edge
# whitespace in identifiers, version 3.0 is not an integer for a strict API). "Positive data is
# accepted" cannot hold there; every other check still runs on these operations.
RULES_BEYOND_SCHEMA = frozenset({"POST /trades", "POST /trades/batch"})
# The batch answers 200 with a per-item "rejected" result for items that break the Trade schema (by
# design: one bad trade must not sink the batch), so "negative data is rejected" cannot hold there.
PER_ITEM_VALIDATION = frozenset({"POST /trades/batch"})


def examples_from_env(default: int = DEFAULT_EXAMPLES) -> int:
    """FUZZ_EXAMPLES (examples per operation, split evenly between positive and negative), or `default`."""
    return int(os.environ.get("FUZZ_EXAMPLES", default))


class AckingProducer:
    """A producer whose every record is acknowledged at once: fuzzing tests the API, not the broker."""

    def send(self, topic: str, value: Any, key: bytes, headers: Any = None) -> Future[Delivery]:
        future: Future[Delivery] = Future()
        future.set_result(Delivery(topic, 0, 0))
        return future

    def send_many(
        self, topic: str, records: Iterable[tuple[str, bytes, bytes]], on_delivery: Any, headers: Any = None
    ) -> int:
        queued = 0
        for index, _ in enumerate(records):
            on_delivery(index, None, _Acked())
            queued += 1
        return queued

    def broker_reachable(self, timeout_s: float = 2.0) -> bool:
        return True


class _Acked:
    """A delivered message at partition 0, offset 0."""

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 0


class EmptyReader:
    """The read routes' store, empty: GET /trades lists nothing, GET /trades/{trade_id} is 404."""

    name = "empty"

    def versions(self, trade_id: str) -> list[StoredTrade]:
        return []

    def find(self, filters: TradeFilter, limit: int, offset: int) -> tuple[list[StoredTrade], int]:
        return [], 0

    def ping(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class OperationRun:
    """What fuzzing one operation in one generation mode did."""

    label: str
    mode: str
    statuses: Counter[int] = field(default_factory=Counter)
    failure: str | None = None
    skipped: bool = False

    @property
    def examples(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


@dataclass
class FuzzReport:
    runs: list[OperationRun] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        return [f"{r.label} [{r.mode}]: {r.failure}" for r in self.runs if r.failure]

    @property
    def server_errors(self) -> int:
        return sum(r.server_errors for r in self.runs)

    def summary(self) -> str:
        lines = [f"{'operation':<28} {'mode':<9} {'examples':>8} {'5xx':>4}  statuses"]
        for r in self.runs:
            statuses = ", ".join(f"{s}x{n}" for s, n in sorted(r.statuses.items()))
            if r.skipped:
                statuses = "(skipped: nothing to negate)"
            lines.append(f"{r.label:<28} {r.mode:<9} {r.examples:>8} {r.server_errors:>4}  {statuses}")
        lines.append(f"failures: {len(self.failures)}; 5xx responses: {self.server_errors}")
        return "\n".join(lines + self.failures)


def _run(operation: Any, mode: GenerationMode, examples: int, headers: Mapping[str, str]) -> OperationRun:
    run = OperationRun(operation.label, mode.value)
    sent = dict(headers)
    excluded = [positive_data_acceptance] if operation.label in RULES_BEYOND_SCHEMA else []
    if operation.label in PER_ITEM_VALIDATION:
        excluded.append(negative_data_rejection)

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=SUPPRESSED)
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case: Any) -> None:
        response = case.call(headers=sent)
        run.statuses[response.status_code] += 1
        case.validate_response(
            response, headers=sent, transport_kwargs={"headers": sent}, excluded_checks=excluded
        )

    try:
        exercise()
    except Unsatisfiable:
        run.skipped = True  # no parameters, body or headers: nothing a negative case could break
    except (Exception, BaseExceptionGroup) as exc:  # a check failed: reported, the rest still run
        run.failure = f"{type(exc).__name__}: {exc}"
    return run


def _has_inputs(operation: Any) -> bool:
    """Whether a negative case can break anything: parameters, headers or a body."""
    parts = (operation.path_parameters, operation.query, operation.headers, operation.cookies, operation.body)
    return any(len(part) for part in parts) or (
        any(True for _ in operation.security.iter_parameters())
        and operation.schema.config.generation.with_security_parameters
    )


def fuzz_app(
    app: Any,
    examples: int,
    headers: Mapping[str, str] | None = None,
    modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
) -> FuzzReport:
    """Fuzz every operation of an ASGI `app` from its /openapi.json; `headers` go on every request.

    `examples` per operation, shared evenly by the generation modes.
    """
    per_mode = -(-examples // len(modes))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    if headers:
        # Credentials come from the caller: generated ones would be replaced, turning a negated
        # header into a valid request that the negative check would then blame.
        schema.config.generation.update(with_security_parameters=False)
    report = FuzzReport()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            report.runs.append(OperationRun("(invalid schema)", "-", failure=str(result.err())))
            continue
        operation = result.ok()
        for mode in modes:
            if mode is GenerationMode.NEGATIVE and not _has_inputs(operation):
                report.runs.append(OperationRun(operation.label, mode.value, skipped=True))
                continue
            report.runs.append(_run(operation, mode, per_mode, headers or {}))
    return report
