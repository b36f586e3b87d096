"""Over loopback: the reference under uvicorn in a thread, reached through real sockets.

What in-process transports cannot show: the SDK client over real HTTP on every endpoint, the
standalone GET stream (which stays open), and Host / Origin checks against a real served host.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from spreadapi_conformance.checks.mcp._support import (
    JSON_RPC_HEADERS,
    MODERN,
    RawSession,
    http2_client,
    initialize_message,
    service_path,
)
from spreadapi_conformance.reference.app import Reference
from spreadapi_conformance.reference.config import ReferenceConfig

from ..serve.conftest import free_port, uvicorn_thread


@dataclass
class Loopback:
    base_url: str
    reference: Reference


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    port = free_port()
    reference = Reference(ReferenceConfig(base_url=f"http://127.0.0.1:{port}", warm_up=False))
    with uvicorn_thread(reference.app, port, name="mcp-loopback") as base_url:
        yield Loopback(base_url, reference)


def credentials(loopback: Loopback, endpoint: str) -> tuple[str, str | None]:
    tokens = loopback.reference
    return {
        "service-public": (service_path("loan-calculator"), None),
        "service-private": (service_path("quote"), tokens.service_tokens["quote"]),
        "bridge": ("/api/mcp/bridge", tokens.mcp_tokens["all"]),
    }[endpoint]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize("endpoint", ["service-public", "service-private", "bridge"])
async def test_sdk_client_over_loopback(loopback, endpoint, mode):
    """The SDK's Client (initialize handshake, or server/discover then 2026-07-28) lists the
    tools and calculates on each endpoint over real HTTP."""
    path, token = credentials(loopback, endpoint)
    arguments = {"inputs": {"principal": 200000, "rate": "4%", "years": 20}}
    if endpoint == "bridge":
        arguments["serviceId"] = "loan-calculator"
    elif endpoint == "service-private":
        arguments = {"inputs": {"product": "gadget", "quantity": 3}}
    async with (
        http2_client(None, loopback.base_url, token) as http,
        Client(streamable_http_client(loopback.base_url + path, http_client=http), mode=mode) as client,
    ):
        assert client.protocol_version == (MODERN if mode == "auto" else "2025-11-25")
        assert (await client.list_tools()).tools
        result = await client.call_tool("spreadapi_calc", arguments)
    assert not result.is_error, result
    assert result.structured_content["outputs"]


async def test_standalone_get_stream(loopback):
    """With a session, GET with Accept: text/event-stream opens an SSE stream; a second one
    on the same session is refused (409); the stream needs the session id (400 without)."""
    path = service_path("loan-calculator")
    async with httpx.AsyncClient(base_url=loopback.base_url, timeout=10) as http:
        session = RawSession(http, path)
        await session.open()
        headers = {**session.headers(), "accept": "text/event-stream"}
        async with http.stream("GET", path, headers=headers) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            second = await http.get(path, headers=headers)
            assert second.status_code == 409, second.text
        no_session = await http.get(path, headers={"accept": "text/event-stream"})
        assert no_session.status_code == 400, no_session.text


async def test_host_and_origin_on_a_served_host(loopback):
    """The served host and its origin are accepted; a foreign Host is 421, a foreign Origin 403."""
    path = service_path("loan-calculator")
    async with httpx.AsyncClient(base_url=loopback.base_url, timeout=10) as http:
        ok = await http.post(path, json=initialize_message(), headers={**JSON_RPC_HEADERS, "origin": loopback.base_url})
        assert ok.status_code == 200, ok.text
        host = await http.post(path, json=initialize_message(), headers={**JSON_RPC_HEADERS, "host": "evil.example"})
        assert host.status_code == 421, host.text
        origin = await http.post(
            path, json=initialize_message(), headers={**JSON_RPC_HEADERS, "origin": "http://evil.example"}
        )
        assert origin.status_code == 403, origin.text
