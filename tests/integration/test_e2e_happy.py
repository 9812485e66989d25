"""Happy path (test design 4.3 and 7.4): POST a trade, then it is in MongoDB and in SQL with every field."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa

from fixtures.consumers import make_trade
from fixtures.pipeline import Pipeline, poll
from shared.schema import SAMPLE_TRADE


def test_e2e_trade_persists_mongo_and_mssql(pipeline: Pipeline, prefix: str) -> None:
    payload = make_trade(f"{prefix}T-2001", counterparty_id="CP-9", book_id="B-9")
    posted = time.monotonic()
    status, body = pipeline.post(payload)
    assert status in (200, 201), body
    key = (payload["trade_id"], 1, "B-9")

    poll(lambda: (pipeline.in_mongo(key), pipeline.in_sql(key)), lambda s: len(s[0]) == 1 and len(s[1]) == 1)
    print(f"visible in both stores {time.monotonic() - posted:.2f}s after the POST")

    doc = pipeline.mongo_collection().find_one({"trade_id": key[0], "version": 1, "book_id": "B-9"})
    assert doc is not None
    assert {k: doc[k] for k in payload} == payload
    assert type(doc["version"]) is int
    assert type(doc["expired"]) is bool
    assert isinstance(doc["partition"], int)
    assert isinstance(doc["offset"], int)
    assert doc["persisted_at"] is not None

    table = pipeline.sql.table
    with pipeline.sql.engine.connect() as conn:
        count = conn.scalar(
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.trade_id == key[0], table.c.version == 1, table.c.book_id == "B-9")
        )
        row = conn.execute(sa.select(table).where(table.c.trade_id == key[0])).mappings().one()
    assert count == 1
    assert row["counterparty_id"] == "CP-9"
    assert str(row["maturity_date"]) == "2030-01-15"
    assert bool(row["expired"]) is False
    assert row["persisted_at"] is not None


def test_seed_sample_trade_is_stored_with_expired_true(pipeline: Pipeline, prefix: str) -> None:
    sample: dict[str, Any] = {**SAMPLE_TRADE, "trade_id": f"{prefix}{SAMPLE_TRADE['trade_id']}"}
    status, body = pipeline.post(sample)
    assert status == 201, body
    assert body["expired"] is True  # maturity 2026-01-15 is before today
    mongo, sql = pipeline.wait_stored(prefix, 1)
    assert mongo[0].expired is True
    assert sql[0].expired is True
    assert mongo == sql


def test_read_api_serves_latest_version_and_history(pipeline: Pipeline, prefix: str) -> None:
    trade_id = f"{prefix}R-1"
    for version in (1, 2, 3):
        assert pipeline.post(make_trade(trade_id, version=version, counterparty_id=f"CP-{version}"))[0] == 201
    pipeline.wait_stored(prefix, 3)
    client = pipeline.client()
    status, _, raw = client.get(f"/trades/{trade_id}")
    assert status == 200
    import json

    assert json.loads(raw)["version"] == 3
    status, _, raw = client.get(f"/trades/{trade_id}?all=true")
    assert [t["version"] for t in json.loads(raw)["versions"]] == [3, 2, 1]
    status, headers, raw = client.get(f"/trades/{prefix}missing")
    assert status == 404
    assert headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("expired", [False, True])
def test_read_api_filters_and_paginates(pipeline: Pipeline, prefix: str, expired: bool) -> None:
    import json

    book = f"{prefix}BOOK"
    maturity = "2026-01-15" if expired else "2030-01-15"
    for i in range(5):
        pipeline.post(make_trade(f"{prefix}P-{i}", book_id=book, maturity_date=maturity))
    pipeline.wait_stored(prefix, 5)
    client = pipeline.client()
    flag = str(expired).lower()
    status, _, raw = client.get(f"/trades?book_id={book}&expired={flag}&limit=2&offset=1")
    page = json.loads(raw)
    assert status == 200
    assert page["total"] == 5
    assert [t["trade_id"] for t in page["items"]] == [f"{prefix}P-1", f"{prefix}P-2"]
    status, _, raw = client.get(f"/trades?book_id={book}&expired={str(not expired).lower()}")
    assert json.loads(raw)["total"] == 0
