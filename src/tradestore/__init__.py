"""The `tradestore` command: local stack, consumers, migrations, regression runner, benchmarks."""
