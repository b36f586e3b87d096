"""Helpers for the client replays: the in-process target served on loopback for a separate process."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn


class _QuietServer(uvicorn.Server):
    """uvicorn inside a check: pytest keeps its own signal handlers."""

    def capture_signals(self):  # type: ignore[override]
        return contextlib.nullcontext()


@contextlib.asynccontextmanager
async def loopback_server(app: Any) -> AsyncIterator[str]:
    """``app`` served on a loopback port in this event loop (without its lifespan, which the caller runs)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="error", access_log=False)
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
