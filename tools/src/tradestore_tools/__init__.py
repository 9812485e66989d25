"""TradeStore development tools, a distribution apart from the product (tools/pyproject.toml)."""
