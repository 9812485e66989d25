"""The fault-injection run (`tradestore chaos`): trades posted while faults hit every link, then verified."""
