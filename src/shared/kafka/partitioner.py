"""Which partition a record goes to: Kafka's murmur2 of the trade_id, so every version of a trade lands in
one partition, in order, and one consumer of a group owns all of them.

The hash is librdkafka's own Java-compatible murmur2 partitioner (`rd_kafka_msg_partitioner_murmur2`, a
public function of the library confluent-kafka loaded), called on the trade_id: 3x cheaper than the
same hash in Python, which stays as the reference and the fallback. librdkafka cannot partition the
records itself: it would hash the record key (`trade_id:version:book_id`), not the trade_id.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import confluent_kafka
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


NativePartitioner = Callable[[None, bytes, int, int, None, None], int]


def native_murmur2(maps: Path = Path("/proc/self/maps")) -> NativePartitioner | None:
    """librdkafka's murmur2 partitioner from the library this process loaded, if it agrees with `murmur2`."""
    confluent_kafka.libversion()  # the library is loaded (and mapped) by importing confluent_kafka
    try:
        paths = {line.split()[-1] for line in maps.read_text().splitlines() if "/librdkafka" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            found = ctypes.CDLL(path).rd_kafka_msg_partitioner_murmur2
        except (OSError, AttributeError):
            continue
        # No argtypes: half the cost per call. libffi passes None as NULL, bytes as char*, and an int as
        # a sign-extended C int (a length or partition count: positive, below 2**31).
        found.restype = ctypes.c_int32
        checks = (b"21", b"foobar", b"a-little-bit-long-string", b"T-1001", b"")
        if all(found(None, d, len(d), 1_000_003, None, None) == murmur2(d) % 1_000_003 for d in checks):
            native: NativePartitioner = found
            return native
    return None


NATIVE = native_murmur2()


def partition_for(trade_id: str, partitions: int) -> int:
    """The partition of every version of `trade_id`."""
    data = trade_id.encode()
    if NATIVE is not None and partitions > 0:
        return NATIVE(None, data, len(data), partitions, None, None)
    return murmur2(data) % partitions
