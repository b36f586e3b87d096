"""REST-WIRE-002 and REST-WIRE-003 against raw HTTP servers no fault of the reference can imitate (the reference's
HTTP parser is uvicorn's): one whose parser keeps only the low 64 bits of a chunk size (it answers 200 as if the
request were whole), one that crashes on the number (500), one that waits for the data forever, and a sound one
(400) that passes both."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

import pytest

from spreadapi_conformance.checks.rest import test_wire as wire
from spreadapi_conformance.checks.target import Target
from spreadapi_conformance.target import PublishedService, TargetSpec

ANSWERS = {
    "overflowing": b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"outputs":[]}\n',
    "crashing": b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
    "sound": b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
}


@contextlib.asynccontextmanager
async def raw_server(behaviour: str) -> AsyncIterator[tuple[Target, list[bytes]]]:
    """A server on loopback that reads a request head and answers as ``behaviour`` says (or never)."""
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readuntil(b"\r\n\r\n") + await reader.readline())
        if behaviour == "hanging":
            await asyncio.sleep(30)  # waits for the 2^76 bytes the size announced
        else:
            writer.write(ANSWERS[behaviour])
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    services = {"loan-calculator": PublishedService("loan-calculator", "loan-calculator", True)}
    try:
        yield Target(spec=TargetSpec(base_url=f"http://127.0.0.1:{port}", services=services)), received
    finally:
        server.close()


@pytest.mark.parametrize("behaviour", ["overflowing", "crashing"])
def test_a_parser_that_overflows_or_crashes_fails_rest_wire_002(behaviour):
    async def scenario() -> str:
        async with raw_server(behaviour) as (target, received):
            with pytest.raises(AssertionError, match="overflowed" if behaviour == "overflowing" else "server error"):
                await wire.test_huge_chunk_size_does_not_overflow(target)
        return received[0].decode("latin-1")

    request = asyncio.run(scenario())
    assert "Transfer-Encoding: chunked" in request and re.search(r"\r\n1000000000000000000E\r\n$", request)


def test_a_server_that_waits_for_the_data_fails_rest_wire_003_only(monkeypatch):
    monkeypatch.setattr(wire, "READ_TIMEOUT", 0.5)

    async def scenario() -> None:
        async with raw_server("hanging") as (target, _):
            await wire.test_huge_chunk_size_does_not_overflow(target)  # it did not misread the number
            with pytest.raises(AssertionError, match="still open"):
                await wire.test_huge_chunk_size_refused_at_once(target)

    asyncio.run(scenario())


async def test_a_sound_parser_passes_both():
    async with raw_server("sound") as (target, _):
        await wire.test_huge_chunk_size_does_not_overflow(target)
        await wire.test_huge_chunk_size_refused_at_once(target)
