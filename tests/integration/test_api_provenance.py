"""Provenance on a real broker: every record TradeData publishes for a principal carries its key id in the
`tradestore.principal` header (single POST and batch); a refused POST puts nothing on the topic."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from pydantic import SecretStr

from fixtures.kafka import Record
from shared.schema import SAMPLE_TRADE
from shared.settings import Settings
from tradedata.app import create_app

WRITER, READER = "w-secret-0123456789", "r-secret-0123456789"


def test_records_carry_the_principal_header_and_refusals_publish_nothing(
    api_settings: Settings, topic: str, topic_reader: Callable[..., list[Record]]
) -> None:
    keys = SecretStr(f"ingest:trades:write:{WRITER};dashboard:trades:read:{READER}")
    settings = api_settings.model_copy(update={"tradedata_api_keys": keys})
    with TestClient(create_app(settings)) as http:
        assert http.post("/trades", json=SAMPLE_TRADE, headers={"X-API-Key": READER}).status_code == 403
        assert http.post("/trades", json=SAMPLE_TRADE).status_code == 401
        single = http.post("/trades", json=SAMPLE_TRADE, headers={"X-API-Key": WRITER})
        assert single.status_code == 201, single.text
        second = [{**SAMPLE_TRADE, "version": 2}]
        batch = http.post("/trades/batch", json=second, headers={"X-API-Key": WRITER})
        assert batch.json()["counts"]["accepted"] == 1
    records = topic_reader(topic)
    assert [r.key for r in records] == [b"T-1001:1:B-1", b"T-1001:2:B-1"]
    assert [r.headers["tradestore.principal"] for r in records] == [b"ingest", b"ingest"]
