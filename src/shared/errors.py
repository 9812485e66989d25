"""Domain errors with messages a person can act on; entry points map them to status or exit codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One offending field: where it is (`loc`), what is wrong (`msg`), and a machine code (`type`)."""

    loc: tuple[str | int, ...]
    msg: str
    type: str

    def as_dict(self) -> dict[str, object]:
        return {"loc": list(self.loc), "msg": self.msg, "type": self.type}


class TradeRuleViolation(ValueError):
    """A trade breaks a business rule (dates, maturity policy, version); carries every offending field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors))


class PublishUnavailable(RuntimeError):
    """The broker did not acknowledge a write in time (or the producer queue is full): retry later."""

    def __init__(self, reason: str, retry_after_s: int = 1) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(reason)


class StoreUnavailable(RuntimeError):
    """A store (MongoDB, SQL) cannot be reached right now; the batch is retried, never skipped."""


class StoreRejected(RuntimeError):
    """The store refused a write deterministically (constraint, truncation, conversion): a retry would fail
    the same way. The runtime isolates the record it concerns and dead-letters it with this reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
