# tests/contract/test_schema.py
from shared.schema import TradePayload  # imported by all services

def test_required_fields_present():
    fields = set(TradePayload.model_fields.keys())
    assert {"trade_id","version","book_id","counterparty_id","expired"}.issubset(fields)
