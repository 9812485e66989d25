"""The Kafka adapter: configuration, partitioner, the producer (trades and dead letters alike) and topics.

Import from here; the submodules are config, partitioner, producer and topics.
"""

from shared.kafka.config import (
    client_config,
    consumer_config,
    instance_name,
    producer_config,
    role_client_id,
)
from shared.kafka.partitioner import murmur2, partition_for, trade_id_of
from shared.kafka.producer import PRODUCER_IDENTITY_ERRORS, Delivery, Headers, TradeProducer
from shared.kafka.topics import TopicRecord, ensure_topics, read_until

__all__ = [
    "PRODUCER_IDENTITY_ERRORS",
    "Delivery",
    "Headers",
    "TopicRecord",
    "TradeProducer",
    "client_config",
    "consumer_config",
    "ensure_topics",
    "instance_name",
    "murmur2",
    "partition_for",
    "producer_config",
    "read_until",
    "role_client_id",
    "trade_id_of",
]
