"""Which partition a record goes to: Kafka's murmur2 of the trade_id, so every version of a trade lands in
one partition, in order, and one consumer of a group owns all of them."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

import orjson


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (as the Java client's default partitioner uses), as a positive int."""
    m = 0x5BD1E995
    length = len(data)
    words = length // 4
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for k in struct.unpack_from(f"<{words}I", data):  # one C call for every 4-byte block
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        h = ((h * m) & 0xFFFFFFFF) ^ ((k * m) & 0xFFFFFFFF)
    tail = data[words * 4 :]
    if tail:
        if len(tail) == 3:
            h ^= tail[2] << 16
        if len(tail) >= 2:
            h ^= tail[1] << 8
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h & 0x7FFFFFFF


def trade_id_of(value: Mapping[str, Any] | bytes | None, key: bytes | None) -> str:
    """The trade_id a record is partitioned by: the value's (a trade_id may itself contain ':'); for a
    value that is not a trade (a test's poison record, a dead letter), the key up to its first ':'."""
    if value is not None and not isinstance(value, bytes):
        return str(value["trade_id"])
    try:
        parsed = orjson.loads(value) if value is not None else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("trade_id"), str):
        return str(parsed["trade_id"])
    return (key or b"").decode(errors="replace").split(":", 1)[0]


def partition_for(trade_id: str, partitions: int) -> int:
    """The partition of every version of `trade_id`."""
    return murmur2(trade_id.encode()) % partitions
