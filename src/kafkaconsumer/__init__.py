"""kafkaconsumer: the MongoDB sink of the `trades` topic (database MONGO_DB, collection `trades`)."""
