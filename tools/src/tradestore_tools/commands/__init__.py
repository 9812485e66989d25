"""`tradestore chaos|bench|fuzz`: plugin commands (entry-point group tradestore.commands), thin."""
