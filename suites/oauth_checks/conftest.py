"""Fixtures for the OAuth conformance checks.

``mcp_target`` is the target with its MCP endpoints running: in process, the app's lifespan is entered
for the test (the SDK's session managers live in it); against a deployment it is the target as it is.
The checks use only it, ``target`` and ``client``: HTTP, never the reference's internals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ..mcp._support import running


@pytest.fixture
async def mcp_target(target: Any) -> AsyncIterator[Any]:
    async with running(target.app):
        yield target
