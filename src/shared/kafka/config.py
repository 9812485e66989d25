"""librdkafka configuration of every TradeStore client: connection and security, producers, client ids.

Every client names its role in `client.id` (`tradedata`, `kafkaconsumer-<instance>`, ...), so brokers, logs
and the chaos relay can tell who is who.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from shared.settings import Settings


def instance_name(settings: Settings) -> str:
    """This process's instance name: CONSUMER_INSTANCE_ID, else host-pid (unique per process)."""
    return settings.consumer_instance_id or f"{socket.gethostname()}-{os.getpid()}"


def role_client_id(role: str, settings: Settings | None = None) -> str:
    """`role` alone, or `role-<instance>` when settings are given (consumers: one id per member)."""
    return role if settings is None else f"{role}-{instance_name(settings)}"


def client_config(settings: Settings, client_id: str | None = None) -> dict[str, Any]:
    """Connection and security settings common to producers, consumers and admin clients."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "security.protocol": settings.kafka_security_protocol,
    }
    if client_id:
        config["client.id"] = client_id
    optional = {
        "sasl.mechanism": settings.kafka_sasl_mechanism,
        "sasl.username": settings.kafka_sasl_username,
        "sasl.password": settings.kafka_sasl_password.get_secret_value()
        if settings.kafka_sasl_password
        else None,
        "ssl.ca.location": settings.kafka_ssl_ca_location,
        "ssl.certificate.location": settings.kafka_ssl_certificate_location,
        "ssl.key.location": settings.kafka_ssl_key_location,
    }
    config.update({k: v for k, v in optional.items() if v is not None})
    return config


def producer_config(settings: Settings, client_id: str | None = None) -> dict[str, Any]:
    """Idempotent, acks=all; librdkafka gives up on a message when the API stops waiting for it."""
    timeout_ms = int(settings.kafka_publish_timeout_s * 1000)
    return {
        **client_config(settings, client_id),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": settings.kafka_linger_ms,
        "compression.type": settings.kafka_compression,
        "queue.buffering.max.messages": settings.kafka_queue_max_messages,
        "message.timeout.ms": timeout_ms,
        "request.timeout.ms": min(timeout_ms, 30_000),
    }


def consumer_config(settings: Settings, sink_name: str, client_id: str | None = None) -> dict[str, Any]:
    """Group consumer settings: manual offset store, fast group join (Tansu), optional static membership."""
    config: dict[str, Any] = {
        **client_config(settings, client_id),
        "group.id": settings.consumer_group or f"tradestore-{sink_name}",
        "enable.auto.offset.store": False,
        "enable.auto.commit": True,  # commits only what we stored, i.e. what is written
        "auto.commit.interval.ms": 1000,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": settings.consumer_session_timeout_ms,
        "heartbeat.interval.ms": settings.consumer_heartbeat_interval_ms,
        # An idle partition's fetch returns after the batch wait, not librdkafka's 500 ms: a trade reaches
        # the stores (and a `Prefer: wait` client its verdict) about twice as fast (bench/prefer_wait.py).
        "fetch.wait.max.ms": settings.consumer_batch_timeout_ms,
    }
    if settings.consumer_instance_id:
        config["group.instance.id"] = settings.consumer_instance_id
    if settings.consumer_assignment_strategy:
        config["partition.assignment.strategy"] = settings.consumer_assignment_strategy
    return config
