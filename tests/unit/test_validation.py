# tests/unit/test_validation.py
import pytest
from tradedata.models import Trade  # your Pydantic model

def test_trade_schema_valid():
    t = Trade(
        trade_id="T-1", counterparty_id="CP-1", book_id="B-1",
        version=1, maturity_date="2026-01-01", created_date="2025-01-01",
        expired=False
    )
    assert t.trade_id == "T-1"

def test_trade_schema_invalid_future_created_date():
    with pytest.raises(Exception):
        Trade(
          trade_id="T-1", counterparty_id="CP-1", book_id="B-1",
          version=1, maturity_date="2026-01-01", created_date="2999-01-01",
          expired=False
        )
