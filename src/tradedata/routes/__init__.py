"""TradeData's routes, one module per resource; app.py includes them."""
