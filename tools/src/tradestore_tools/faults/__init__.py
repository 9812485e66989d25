"""Fault injection tools: a switchable TCP proxy, and the API fuzzing run (`tradestore fuzz`)."""
