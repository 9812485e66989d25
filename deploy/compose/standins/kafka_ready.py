"""Healthcheck of the Kafka stand-in: the broker answers a metadata request (exit 0) or not (exit 1)."""

import sys

from confluent_kafka.admin import AdminClient

try:
    AdminClient({"bootstrap.servers": sys.argv[1]}).list_topics(timeout=3)
except Exception as exc:  # any failure means "not ready yet"
    print(f"not ready: {exc}", file=sys.stderr)
    sys.exit(1)
