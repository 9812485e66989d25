# tests/unit/test_producer.py
from unittest.mock import MagicMock
from tradedata.service import publish_trade

def test_publish_calls_producer_with_key_and_value():
    producer = MagicMock()
    trade = {"trade_id":"T-1","version":1,"book_id":"B-1"}
    publish_trade(producer, trade)
    key = f"{trade['trade_id']}:{trade['version']}:{trade['book_id']}".encode()
    producer.send.assert_called_once_with("trades", value=trade, key=key)
