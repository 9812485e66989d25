"""The contract every TradeStore service imports: schema, trade rules, settings and the Kafka adapter."""
