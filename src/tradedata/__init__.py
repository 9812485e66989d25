"""TradeData: the HTTP API that validates trades and publishes them to the Kafka topic `trades`."""
