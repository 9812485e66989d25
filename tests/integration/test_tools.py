"""The operator tools against real stores: regress (test design 4.4), reconcile, expire."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from fixtures.consumers import make_trade
from fixtures.pipeline import Pipeline
from shared.ports import StoredTrade
from shared.schema import TradePayload
from shared.settings import Settings
from shared.stores import open_audit, open_writer
from tradestore.cli import main


def use(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)


def test_regress_passes_against_the_pipeline(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use(monkeypatch, pipeline.settings)
    assert main(["regress", "-n", "300", "--timeout", "90"]) == 0
    out = capsys.readouterr().out
    assert "regression passed" in out
    assert "lower versions rejected to DLQ" in out


def test_reconcile_is_clean_then_names_a_missing_record(
    pipeline: Pipeline, prefix: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use(monkeypatch, pipeline.settings)
    for i in range(3):
        assert pipeline.post(make_trade(f"{prefix}{i}"))[0] == 201
    pipeline.wait_stored(prefix, 3)
    assert main(["reconcile", "--prefix", prefix]) == 0
    assert "stores agree" in capsys.readouterr().out

    pipeline.mongo_collection().delete_one({"trade_id": f"{prefix}1"})
    assert main(["reconcile", "--prefix", prefix]) == 1
    out = capsys.readouterr().out
    assert f"missing in mongo: ('{prefix}1', 1, 'B-1')" in out
    assert "stores differ" in out


def stored(trade_id: str, maturity: str) -> StoredTrade:
    trade = TradePayload.model_validate(make_trade(trade_id, maturity_date=maturity))
    return StoredTrade(trade, 0, 0, datetime.now(UTC))


def test_expire_flips_matured_trades_in_both_stores_and_is_idempotent(
    mongo_url: str,
    mongo_db_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(
        mongo_url=SecretStr(mongo_url),
        mongo_db=mongo_db_name,
        sql_url=SecretStr(f"sqlite:///{tmp_path / 'expire.db'}"),
    )
    records = [stored("E-1", "2027-01-10"), stored("E-2", "2027-03-01"), stored("E-3", "2028-01-01")]
    for kind in ("mongo", "sql"):
        writer = open_writer(settings, kind)
        writer.setup()
        assert writer.write(records).written == 3
        writer.close()
    use(monkeypatch, settings)

    assert main(["expire", "--today", "2027-03-02"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "mongo: 2 trade(s) newly expired",
        "sql: 2 trade(s) newly expired",
    ]
    assert main(["expire", "--today", "2027-03-02"]) == 0
    assert "mongo: 0 trade(s) newly expired" in capsys.readouterr().out

    for reader in (open_audit(settings, "mongo"), open_audit(settings, "sql")):
        assert [(t.trade_id, t.expired) for t in reader.iter_trades()] == [
            ("E-1", True),
            ("E-2", True),
            ("E-3", False),
        ]
        reader.close()


def test_tools_say_clearly_when_a_store_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tradestore.local.process import free_port

    monkeypatch.setenv("MONGO_URL", f"mongodb://app:hunter2@127.0.0.1:{free_port()}")
    monkeypatch.setenv("TRADESTORE_HOME", str(tmp_path))
    assert main(["reconcile"]) == 2
    err = capsys.readouterr().err
    assert "a service is unreachable" in err
    assert "hunter2" not in err
