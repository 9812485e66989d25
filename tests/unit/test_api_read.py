"""Reads through the TradeReader port: filters reach the store, 404 for an unknown trade, 503 when the store
is down (shared.errors.StoreUnavailable, one handler), auth off shows everything."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.errors import StoreUnavailable
from shared.ports import StoredTrade, TradeFilter
from shared.schema import TradePayload
from unit.test_api_http import LIVE, FakeProducer, assert_problem, make_client


class Store:
    name = "fake"

    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.calls: list[tuple[Any, ...]] = []
        self.trades = [
            StoredTrade(
                TradePayload.model_validate({**LIVE, "version": v}), 0, v, datetime.now(UTC), "ingest"
            )
            for v in (2, 1)
        ]

    def versions(self, trade_id: str) -> list[StoredTrade]:
        if self.down:
            raise StoreUnavailable("the trade store (MongoDB) is unavailable: ServerSelectionTimeoutError")
        return [t for t in self.trades if t.trade.trade_id == trade_id]

    def find(self, filters: TradeFilter, limit: int, offset: int) -> tuple[list[StoredTrade], int]:
        self.calls.append((filters, limit, offset))
        if self.down:
            raise StoreUnavailable("the trade store (MongoDB) is unavailable")
        return self.trades[offset : offset + limit], len(self.trades)

    def ping(self) -> None: ...

    def close(self) -> None: ...


def test_latest_version_and_all_versions() -> None:
    with make_client(FakeProducer(), reader=Store()) as http:
        latest = http.get("/trades/T-1001").json()
        every = http.get("/trades/T-1001", params={"all": "true"}).json()
        assert_problem(http.get("/trades/T-404"), 404)
    assert latest["version"] == 2
    assert latest["principal"] == "ingest"  # auth off: the caller may do everything
    assert [v["version"] for v in every["versions"]] == [2, 1]


def test_listing_passes_filters_and_pagination_to_the_store() -> None:
    store = Store()
    with make_client(FakeProducer(), reader=store) as http:
        page = http.get(
            "/trades", params={"book_id": "B-1", "expired": "false", "limit": 1, "offset": 1}
        ).json()
    assert store.calls == [(TradeFilter(book_id="B-1", expired=False), 1, 1)]
    assert page["total"] == 2
    assert page["limit"] == 1
    assert page["offset"] == 1
    assert [t["version"] for t in page["items"]] == [1]


def test_store_down_is_503_with_retry_after_for_every_read() -> None:
    with make_client(FakeProducer(), reader=Store(down=True)) as http:
        for path in ("/trades", "/trades/T-1001"):
            r = http.get(path)
            body = assert_problem(r, 503)
            assert r.headers["retry-after"] == "1"
            assert "unavailable" in body["detail"]
