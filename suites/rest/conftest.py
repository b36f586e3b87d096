"""The REST checks' `client`: the shared one, except that in process a server crash is a 500 answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ._support import open_client


@pytest.fixture
async def client(target: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with open_client(target) as http:
        yield http
