"""The console and the offline docs without services: pages, charts, access and confirmation tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shared.operations.dlq import DlqFilter, parse_position, plan_redrive
from shared.operations.history import last_reconcile, record_reconcile
from shared.operations.reading import KafkaRecord
from shared.ports import Key, StoredTrade
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.settings import Settings
from tradedata.app import create_app
from tradedata.console import access, charts, views
from tradedata.console.health import counters_of, sink_urls


class DownProducer:
    def broker_reachable(self, timeout_s: float = 2.0) -> bool:
        return False


def settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        tradestore_home=tmp_path, kafka_bootstrap_servers="127.0.0.1:1", tradestore_env="test", **extra
    )


def letter(partition: int, offset: int, **headers: str) -> KafkaRecord:
    encoded = tuple((k.replace("_", "."), v.encode()) for k, v in headers.items())
    return KafkaRecord("trades.dlq", partition, offset, b"T1:2:B1", b'{"trade_id":"T1"}', encoded, 0)


def test_docs_pages_load_their_assets_from_this_host_only(tmp_path: Path) -> None:
    with TestClient(create_app(settings(tmp_path), producer=DownProducer())) as client:
        assert client.get("/redoc").status_code == 404  # not offered: its bundle loads a logo from a CDN
        for page in ("/docs",):
            html = client.get(page).text
            urls = re.findall(r'(?:src|href)="([^"]+)"', html)
            assert urls
            assert all(u.startswith("/docs-assets/") for u in urls), urls
            assert "https://" not in html
            for url in urls:
                assert client.get(url).status_code == 200


def test_console_read_pages_need_credentials_when_auth_is_on(tmp_path: Path) -> None:
    app = create_app(settings(tmp_path, tradedata_api_keys=SecretStr("k-123")), producer=DownProducer())
    with TestClient(app) as client:
        assert client.get("/console/dlq/0:0").status_code == 401
        assert client.get("/console/dlq/0:0", headers={"X-API-Key": "wrong"}).status_code == 403
        refused = client.post("/console/dlq/redrive/confirm", content=b"position=0:0&token=x")
        assert refused.status_code == 401


def test_redrive_confirmation_token_binds_caller_selection_and_expiry() -> None:
    secret = b"s" * 32
    token = access.issue_token(secret, "redrive", "alice", ["0:1", "1:2"], now=1000)
    assert access.token_valid(secret, token, "redrive", "alice", ["1:2", "0:1"], now=1100)
    assert not access.token_valid(secret, token, "redrive", "bob", ["0:1", "1:2"], now=1100)
    assert not access.token_valid(secret, token, "redrive", "alice", ["0:1"], now=1100)
    assert not access.token_valid(secret, token, "redrive", "alice", ["0:1", "1:2"], now=1000 + 301)
    assert not access.token_valid(b"t" * 32, token, "redrive", "alice", ["0:1", "1:2"], now=1100)


def test_console_secret_is_shared_through_the_home_directory(tmp_path: Path) -> None:
    first = access.console_secret(settings(tmp_path))
    assert access.console_secret(settings(tmp_path)) == first
    assert len(first) == 32
    assert (
        access.console_secret(settings(tmp_path, tradedata_console_secret=SecretStr("x" * 40))) == b"x" * 40
    )


def test_charts_scale_and_escape() -> None:
    line = str(charts.sparkline([0, 5, 10], width=100, height=20))
    assert "polyline" in line
    assert "0.0,18.0" in line
    assert "100.0,2.0" in line
    bar = str(charts.bars([("<b>", 3), ("ok", 6)]))
    assert "&lt;b&gt;" in bar
    assert "<b>" not in bar
    assert "collecting" in str(charts.sparkline([1]))


def test_sink_settings_and_counters_parse() -> None:
    s = Settings(tradedata_console_sinks="mongo=http://h:1/, sql=http://h:2,broken")
    assert sink_urls(s) == {"mongo": "http://h:1", "sql": "http://h:2"}
    text = (
        'tradestore_persisted_total{sink="mongo"} 7\n'
        'tradestore_dead_letters_total{sink="mongo",reason="lower_version"} 2\n'
        'tradestore_dead_letters_total{sink="mongo",reason="schema_invalid"} 1\n'
    )
    assert counters_of(text) == {"persisted": 7.0, "consumed": 0.0, "dead_lettered": 3.0}


def test_redrive_plan_keeps_key_value_and_principal_and_names_its_origin() -> None:
    dead = letter(2, 9, dlq_reason="lower_version", tradestore_principal="desk")
    (plan,) = plan_redrive([dead], "trades")
    assert (plan.topic, plan.key, plan.value) == ("trades", dead.key, dead.value)
    names = dict(plan.headers)
    assert names["redrive.of"] == b"trades.dlq:2:9"
    assert names["tradestore.principal"] == b"desk"
    assert "dlq.reason" not in names
    assert DlqFilter(reason="lower_version", trade_id="T1").matches(dead)
    assert not DlqFilter(sink="sql").matches(dead)


@pytest.mark.parametrize("bad", ["", "1", "a:2", "1:-2", "1:2:3"])
def test_positions_are_partition_colon_offset(bad: str) -> None:
    with pytest.raises(ValueError, match="PARTITION:OFFSET"):
        parse_position(bad)
    assert parse_position(" 01:007 ") == "1:7"


def test_last_reconcile_round_trips(tmp_path: Path) -> None:
    s = settings(tmp_path)
    assert last_reconcile(s) is None
    record_reconcile(s, {"clean": True, "compared": 12})
    found = last_reconcile(s)
    assert found is not None
    assert (found["clean"], found["compared"]) == (True, 12)


class FakeStore:
    def __init__(self, trades: list[TradePayload], origins: dict[Key, tuple[int, int]]) -> None:
        self.trades, self.origins = trades, origins

    def versions(self, trade_id: str) -> list[StoredTrade]:
        return [StoredTrade(t, *self.origins[t.key], datetime.now(UTC)) for t in self.trades]

    def iter_trades(self, prefix: str = "") -> list[TradePayload]:
        return self.trades

    def stored_origins(self, keys: object) -> dict[Key, tuple[int, int]]:
        return self.origins


class DownStore(FakeStore):
    def iter_trades(self, prefix: str = "") -> list[TradePayload]:
        raise ConnectionError("sql is down")


def test_trade_detail_shows_where_each_version_is_stored_and_survives_a_store_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1 = TradePayload.model_validate({**SAMPLE_TRADE, "trade_id": "T1", "book_id": "B1", "version": 1})
    v2 = TradePayload.model_validate({**SAMPLE_TRADE, "trade_id": "T1", "book_id": "B1", "version": 2})
    low = KafkaRecord(
        "trades.dlq", 0, 4, b"T1:1:B1", b"{}", (("dlq.reason", b"lower_version"), ("dlq.sink", b"sql")), 0
    )
    monkeypatch.setattr(views, "dead_letters_of", lambda _settings, _trade_id: [low])
    mongo = FakeStore([v2, v1], {v2.key: (3, 20), v1.key: (3, 10)})
    sql = FakeStore([v2], {v2.key: (3, 20)})
    detail = views.trade_detail(settings(tmp_path), mongo, sql, "T1")
    assert detail.errors == []
    top, bottom = detail.rows
    assert (top.version, top.mongo_at, top.sql_at, top.outcome) == (2, (3, 20), (3, 20), "stored")
    assert (bottom.version, bottom.mongo_at, bottom.sql_at) == (1, (3, 10), None)
    assert bottom.outcome == "dead-lettered: lower_version (sql)"
    down = views.trade_detail(settings(tmp_path), mongo, DownStore([], {}), "T1")
    assert [e.split(":")[0] for e in down.errors] == ["SQL"]
    assert [r.version for r in down.rows] == [2, 1]
