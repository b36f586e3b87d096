"""The OpenAPI checks' `client`: the shared one, except that in process a server crash is a 500 answer
(httpx's ASGI transport would otherwise raise it into the test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest


@pytest.fixture
async def client(target: Any) -> AsyncIterator[httpx.AsyncClient]:
    kwargs: dict[str, Any] = {}
    if target.app is not None:
        kwargs["transport"] = httpx.ASGITransport(app=target.app, raise_app_exceptions=False)
    async with target.client(**kwargs) as http:
        yield http
