"""The committed JSON Schema is the contract: the live model must stay backward compatible with it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import shared
from shared.contract import breaking_changes
from shared.schema import SAMPLE_TRADE, TradePayload, trade_json_schema
from tradedata import models
from tradestore.cli import main

COMMITTED = Path(__file__).parents[2] / "contracts" / "trade.schema.json"


@pytest.fixture
def committed() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(COMMITTED.read_text())
    return schema


def test_live_model_is_compatible_with_the_committed_schema(committed: dict[str, Any]) -> None:
    assert breaking_changes(committed, trade_json_schema()) == []


def test_committed_schema_is_up_to_date(committed: dict[str, Any]) -> None:
    # Regenerate with `tradestore contract --write` after a compatible change.
    assert committed == trade_json_schema()


def test_removed_field_breaks(committed: dict[str, Any]) -> None:
    new = copy.deepcopy(committed)
    del new["properties"]["book_id"]
    assert breaking_changes(committed, new) == ["field 'book_id' was removed or renamed"]


def test_renamed_field_breaks(committed: dict[str, Any]) -> None:
    new = copy.deepcopy(committed)
    new["properties"]["book"] = new["properties"].pop("book_id")
    assert any("book_id" in p for p in breaking_changes(committed, new))


def test_changed_type_breaks(committed: dict[str, Any]) -> None:
    new = copy.deepcopy(committed)
    new["properties"]["version"] = {"type": "string"}
    assert any("changed type" in p for p in breaking_changes(committed, new))


def test_new_required_field_breaks(committed: dict[str, Any]) -> None:
    new = copy.deepcopy(committed)
    new["properties"]["desk"] = {"type": "string"}
    new["required"] = [*new["required"], "desk"]
    assert breaking_changes(committed, new) == ["field 'desk' is newly required"]


def test_tightened_bound_breaks(committed: dict[str, Any]) -> None:
    new = copy.deepcopy(committed)
    new["properties"]["trade_id"]["maxLength"] = 16
    assert breaking_changes(committed, new) == ["field 'trade_id' tightened maxLength to 16"]


def test_added_optional_field_is_compatible(committed: dict[str, Any]) -> None:
    new = copy.deepcopy(committed)
    new["properties"]["desk"] = {"type": "string", "default": None}
    assert breaking_changes(committed, new) == []


def test_sample_trade_validates_against_committed_schema(committed: dict[str, Any]) -> None:
    jsonschema.validate(SAMPLE_TRADE, committed)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**SAMPLE_TRADE, "typo_field": 1}, committed)


def test_the_api_model_is_the_contract_model() -> None:
    assert issubclass(models.Trade, TradePayload)
    assert models.Trade.model_json_schema()["properties"] == trade_json_schema()["properties"]


def test_shared_is_the_regular_package_under_src(tmp_path: Path) -> None:
    # A folder named `shared` beside the repository (as ../shared is) must never shadow the contract
    # package, even first on the import path: a regular package wins over a namespace directory.
    import subprocess
    import sys

    decoy = tmp_path / "shared"
    decoy.mkdir()
    (decoy / "schema.py").write_text("raise ImportError('the decoy was imported')\n")
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import shared.schema; print(shared.__file__)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert Path(found.strip()).parent == Path(shared.__file__).parent
    assert Path(shared.__file__).parent.parent.name == "src"


def test_contract_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.json"
    assert main(["contract", "--write", "--path", str(good)]) == 0
    assert main(["contract", "--check", "--path", str(good)]) == 0
    broken = json.loads(good.read_text())
    broken["properties"]["gone"] = {"type": "string"}
    good.write_text(json.dumps(broken))
    assert main(["contract", "--check", "--path", str(good)]) == 1
    assert "field 'gone' was removed" in capsys.readouterr().err
