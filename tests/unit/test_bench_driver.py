"""The benchmark's batch driver (tradestore_tools.bench.load): one keep-alive HTTP/1.1 connection per
request in flight; an answer is its body, anything but 200 is an error naming the status."""

from __future__ import annotations

import asyncio

import pytest

from tradestore_tools.bench.load import _Connection


async def serve(answers: list[bytes], seen: list[bytes]) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in answers:  # keep-alive: every answer on the one connection
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            seen.append(head + await reader.readexactly(length))
            writer.write(answer)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_answers_are_read_by_content_length_on_one_connection() -> None:
    ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n"

    async def run() -> tuple[list[bytes], list[bytes]]:
        seen: list[bytes] = []
        server, port = await serve([ok + b'{"n": 1234}', ok + b'{"n": 5678}'], seen)
        client = _Connection(f"http://127.0.0.1:{port}/trades/batch")
        try:
            found = [await client.post_json(b"[1]"), await client.post_json(b"[22]")]
        finally:
            client.close()
            server.close()
        return found, seen

    found, seen = asyncio.run(run())
    assert found == [b'{"n": 1234}', b'{"n": 5678}']
    assert seen[0].startswith(b"POST /trades/batch HTTP/1.1\r\n")
    assert b"Content-Type: application/json\r\nContent-Length: 3\r\n\r\n[1]" in seen[0]
    assert seen[1].endswith(b"Content-Length: 4\r\n\r\n[22]")


def test_an_answer_other_than_200_is_an_error_naming_it() -> None:
    refused = b"HTTP/1.1 413 Content Too Large\r\ncontent-length: 9\r\n\r\ntoo large"

    async def run() -> None:
        server, port = await serve([refused], [])
        client = _Connection(f"http://127.0.0.1:{port}/trades/batch")
        try:
            await client.post_json(b"[]")
        finally:
            client.close()
            server.close()

    with pytest.raises(RuntimeError, match="413 Content Too Large"):
        asyncio.run(run())
