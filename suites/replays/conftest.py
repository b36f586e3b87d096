"""Fixtures for the client replays.

``mcp_target``: the target with its MCP endpoints running (in process, the app's lifespan for the test).
``reachable_url``: a base URL a separate process can reach, for the Claude Desktop replay's bridge
command: the target's own, or in process the app served on a loopback port in the test's event loop
(uvicorn without its own lifespan or signal handlers: ``mcp_target`` runs the lifespan).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from ..mcp._support import running


@pytest.fixture
async def mcp_target(target: Any) -> AsyncIterator[Any]:
    async with running(target.app):
        yield target


class _QuietServer(uvicorn.Server):
    """uvicorn inside a test: pytest keeps its own signal handlers."""

    def capture_signals(self):  # type: ignore[override]
        return contextlib.nullcontext()


@pytest.fixture
async def reachable_url(mcp_target: Any) -> AsyncIterator[str]:
    if mcp_target.app is None:
        yield mcp_target.base_url
        return
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(mcp_target.app, lifespan="off", log_level="error", access_log=False)
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if not server.started:
            await task if task.done() else None
            pytest.fail("the in-process target could not be served on loopback")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()
