"""Compare what the stores hold with what the scenario says they must: one row per check."""

from __future__ import annotations

from dataclasses import dataclass

from shared.ports import StoreSummary


@dataclass(frozen=True)
class Check:
    name: str
    expected: object
    actual: dict[str, object]

    @property
    def ok(self) -> bool:
        return all(value == self.expected for value in self.actual.values())


def summary_checks(expected: StoreSummary, actual: dict[str, StoreSummary]) -> list[Check]:
    """Total, per-book counts, latest version per trade, expired count, for every store."""
    checks = [Check("records", expected.total, {k: s.total for k, s in actual.items()})]
    for book in sorted(set(expected.per_book) | {b for s in actual.values() for b in s.per_book}):
        checks.append(
            Check(
                f"records in {book}",
                expected.per_book.get(book, 0),
                {k: s.per_book.get(book, 0) for k, s in actual.items()},
            )
        )
    checks.append(
        Check(
            "trades with the right latest version",
            len(expected.latest_version),
            {
                k: sum(s.latest_version.get(t) == v for t, v in expected.latest_version.items())
                for k, s in actual.items()
            },
        )
    )
    checks.append(Check("expired", expected.expired, {k: s.expired for k, s in actual.items()}))
    return checks
