"""The chaos run's broker relay: routes each Kafka connection by the client id its requests carry.

A Kafka broker advertises one address, so every client ends up on it. The relay listens there and
reads the header of the first request on each connection: every Kafka request header holds the
client's `client_id` right after api key, api version and correlation id (in every header version).
TradeStore names each client by its role (`tradedata`, `kafkaconsumer-<instance>`,
`kafkaconsumermssql-<instance>`), so the API's and the consumers' links can be sent to different
FaultProxies and fail separately. Nothing about the client's process or platform is needed.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Mapping

from tradestore_tools.faults.proxy import FaultProxy, Target

# size int32, api_key int16, api_version int16, correlation_id int32, client_id length int16
_HEADER = struct.Struct(">ihhih")
_MAX_CLIENT_ID = 1024  # a longer id is not one of ours: routed to the default


def client_id_length(header: bytes) -> int:
    """Length of the client id after a request header's fixed part; 0 if null (-1), empty or implausible."""
    *_, length = _HEADER.unpack(header)
    return length if 0 < length <= _MAX_CLIENT_ID else 0


def route_by_prefix(client_id: str | None, routes: Mapping[str, Target], default: Target) -> Target:
    """The target of the longest prefix of `routes` that `client_id` starts with, else `default`."""
    if client_id:
        matches = [prefix for prefix in routes if client_id.startswith(prefix)]
        if matches:
            return routes[max(matches, key=len)]
    return default


class KafkaRelay(FaultProxy):
    """A FaultProxy whose target per connection is chosen by the Kafka client id (prefix -> target)."""

    def __init__(
        self, routes: Mapping[str, Target], default: Target, listen_host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__(*default, listen_host=listen_host, port=port)
        self.routes = dict(routes)
        self.client_ids: set[str] = set()  # every client id seen: what the relay routed on

    async def _route(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[Target, bytes]:
        head = await reader.readexactly(_HEADER.size)
        client_id = None
        if length := client_id_length(head):
            raw = await reader.readexactly(length)
            head += raw
            client_id = raw.decode("utf-8", errors="replace")
            self.client_ids.add(client_id)
        return route_by_prefix(client_id, self.routes, self.target), head
