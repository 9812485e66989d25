"""The independent oracle (tradestore.regress.model) against the rules the sinks run (shared.rules).

Two readings of the README's rules must agree on every sequence of posts, whatever the batching: the
model applies posts one at a time on two dicts; the sinks' functions plan batches against the highest
stored versions. A disagreement is a bug in one of them, and the regression runner and the fault run
(which check the stores against the model) would then report it instead of agreeing with the bug.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import TradeRuleViolation
from shared.ports import Key
from shared.rules import MaturedPolicy, VersionDecision, apply_maturity, plan_batch
from shared.schema import TradePayload
from tradestore.regress.model import OVERRIDDEN, REFUSED, REJECTED, STORED, StoreModel, expected_outcome

TODAY = date(2026, 6, 15)

posts_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "trade_id": st.sampled_from(["T-1", "T-2", "T-3"]),
            "version": st.integers(1, 4),
            "book_id": st.sampled_from(["B-1", "B-2"]),
            "counterparty_id": st.sampled_from(["CP-1", "CP-2", "CP-3"]),
            "maturity_offset": st.integers(-2, 2),  # around today: the `<` versus `<=` boundary included
            "expired": st.booleans(),  # what the client sent; both readings must ignore it
        }
    ),
    max_size=25,
)


def as_post(raw: dict[str, Any]) -> dict[str, Any]:
    post = {k: v for k, v in raw.items() if k != "maturity_offset"}
    post["maturity_date"] = (TODAY + timedelta(days=raw["maturity_offset"])).isoformat()
    post["created_date"] = (TODAY - timedelta(days=30)).isoformat()
    return post


def by_the_sinks_rules(
    posts: list[dict[str, Any]], cuts: list[int], policy: MaturedPolicy
) -> tuple[dict[Key, TradePayload], int, int]:
    """What shared.rules makes of the posts, planned in batches split at `cuts`."""
    accepted: list[TradePayload] = []
    refused = 0
    for post in posts:
        try:
            accepted.append(apply_maturity(TradePayload.model_validate(post), TODAY, policy))
        except TradeRuleViolation:
            refused += 1
    records: dict[Key, TradePayload] = {}
    rejected = 0
    bounds = sorted({0, len(accepted), *(c for c in cuts if c < len(accepted))})
    for start, end in itertools.pairwise(bounds):
        stored_max: dict[str, int] = {}
        for key in records:
            stored_max[key[0]] = max(stored_max.get(key[0], 0), key[1])
        for planned in plan_batch(((t.key, t) for t in accepted[start:end]), stored_max):
            if planned.decision is VersionDecision.REJECT_LOWER_VERSION:
                rejected += 1
            else:
                records[planned.item] = planned.trade
    return records, rejected, refused


@settings(max_examples=300, deadline=None)
@given(
    raw=posts_strategy, cuts=st.lists(st.integers(0, 25), max_size=4), policy=st.sampled_from(MaturedPolicy)
)
def test_the_model_and_the_sinks_rules_agree_on_every_sequence_and_batching(
    raw: list[dict[str, Any]], cuts: list[int], policy: MaturedPolicy
) -> None:
    posts = [as_post(r) for r in raw]
    model = StoreModel(TODAY, policy.value)
    model.post_all(posts)
    records, rejected, refused = by_the_sinks_rules(posts, cuts, policy)
    assert model.payloads() == records
    assert model.rejected == rejected
    assert model.refused == refused


def post(
    version: int, book: str = "B-1", cp: str = "CP-1", maturity: date = date(2030, 1, 1)
) -> dict[str, Any]:
    return {
        "trade_id": "T-1",
        "version": version,
        "book_id": book,
        "counterparty_id": cp,
        "maturity_date": maturity.isoformat(),
        "created_date": "2026-01-01",
        "expired": False,
    }


def test_the_model_applies_each_version_rule_of_the_readme() -> None:
    model = StoreModel(TODAY)
    assert model.post(post(2)) == STORED  # first version
    assert model.post(post(2, cp="CP-9")) == OVERRIDDEN  # == max, same key
    assert model.post(post(2, book="B-2")) == STORED  # == max, another book: added
    assert model.post(post(1)) == REJECTED  # < max
    assert model.post(post(2, cp="CP-9")) == OVERRIDDEN
    assert model.post(post(3)) == STORED  # > max
    assert model.post(post(2, cp="CP-LATE")) == REJECTED  # that exact key is stored, still < max
    assert sorted(model.records) == [("T-1", 2, "B-1"), ("T-1", 2, "B-2"), ("T-1", 3, "B-1")]
    assert model.records[("T-1", 2, "B-1")]["counterparty_id"] == "CP-9"
    assert model.rejected == 2


@pytest.mark.parametrize(
    ("maturity", "expired"),
    [(TODAY - timedelta(days=1), True), (TODAY, False), (TODAY + timedelta(days=1), False)],
)
def test_the_model_expires_a_trade_maturing_strictly_before_today(maturity: date, expired: bool) -> None:
    model = StoreModel(TODAY)
    model.post({**post(1, maturity=maturity), "expired": not expired})  # whatever the client sent
    assert model.records[("T-1", 1, "B-1")]["expired"] is expired


def test_the_model_refuses_a_matured_trade_under_policy_reject_and_stores_nothing() -> None:
    model = StoreModel(TODAY, "reject")
    assert model.post(post(1, maturity=TODAY - timedelta(days=1))) == REFUSED
    assert model.post(post(1, book="B-2", maturity=TODAY)) == STORED
    assert list(model.records) == [("T-1", 1, "B-2")]
    assert (model.refused, model.max_version) == (1, {"T-1": 1})


def test_expected_outcome_applies_each_group_in_order() -> None:
    records, rejected = expected_outcome({"T-1": [post(2), post(1), post(2, cp="CP-2")]}, TODAY)
    assert list(records) == [("T-1", 2, "B-1")]
    assert records[("T-1", 2, "B-1")].counterparty_id == "CP-2"
    assert rejected == 1
