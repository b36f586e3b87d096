"""The `store` fixture: every store test runs on both backends, Redis being the real server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
import redis.asyncio as aioredis

from spreadapi_conformance.reference.store import ManualClock, MemoryStore, RedisStore, TokenStore

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


async def purge(prefix: str) -> None:
    raw = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        keys = [k async for k in raw.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await raw.delete(*keys)
    finally:
        await raw.aclose()


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid4().hex}:"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[TokenStore]:
    if request.param == "memory":
        yield MemoryStore(clock=ManualClock(start=1000.0))
        return
    backend = RedisStore(REDIS_URL, prefix=prefix)
    if not await backend.ping():
        # CI always runs Redis; a missing server is a broken setup, never a skip.
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} (set REDIS_URL); the redis-backend tests need it", pytrace=False
        )
    try:
        yield backend
    finally:
        await purge(prefix)
        await backend.aclose()
