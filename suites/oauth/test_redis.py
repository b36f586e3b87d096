"""The main flow on the Redis backend: real TTLs, SpreadAPI's key layout, atomic code redemption."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest
import redis.asyncio as aioredis

from spreadapi_conformance.reference.app import Reference, create_reference
from spreadapi_conformance.reference.config import ReferenceConfig
from spreadapi_conformance.reference.credentials import token_hash

from ._support import OAuthDriver, assert_oauth_error

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")

pytestmark = pytest.mark.redis


@pytest.fixture
async def raw() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        await client.ping()
    except Exception:
        # CI always runs Redis; a missing server is a broken setup, never a skip.
        pytest.fail(f"Redis is not reachable at {REDIS_URL} (set REDIS_URL)", pytrace=False)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_reference(raw: aioredis.Redis) -> AsyncIterator[tuple[Reference, str]]:
    prefix = f"test:{uuid4().hex}:"
    reference = await create_reference(ReferenceConfig(warm_up=False, store_url=REDIS_URL, store_prefix=prefix))
    try:
        yield reference, prefix
    finally:
        await reference.aclose()
        keys = [k async for k in raw.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await raw.delete(*keys)


async def test_main_flow_on_redis(redis_reference, raw):
    reference, prefix = redis_reference
    transport = httpx.ASGITransport(app=reference.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as http:
        oauth = OAuthDriver(http, reference)
        assert (await http.get("/.well-known/oauth-authorization-server")).status_code == 200

        # A code lives in Redis under SpreadAPI's key with a real 600 s TTL, and works exactly once.
        pending = await oauth.start()
        code = await oauth.code(pending)
        assert await raw.type(f"{prefix}oauth:code:{code}") == "hash"
        assert 590 < await raw.ttl(f"{prefix}oauth:code:{code}") <= 600
        assert 30 * 86400 - 10 < await raw.ttl(f"{prefix}oauth:client:{pending.client_id}") <= 30 * 86400

        # Open 50 pooled connections first: otherwise the request that finds the one open connection
        # runs ahead while the others connect, and a non-atomic GET-then-DEL would pass unnoticed.
        await asyncio.gather(*(reference.store.hgetall("warm-up") for _ in range(50)))
        responses = await asyncio.gather(*(oauth.exchange(pending, code) for _ in range(50)))
        assert sorted(r.status_code for r in responses) == [200] + [400] * 49
        for response in responses:
            if response.status_code != 200:
                assert_oauth_error(response, 400, "invalid_grant")
        access = next(r for r in responses if r.status_code == 200).json()["access_token"]
        assert await raw.exists(f"{prefix}oauth:code:{code}") == 0

        key = f"{prefix}oauth:token:{token_hash(access)}"
        assert 43190 < await raw.ttl(key) <= 43200
        record = await raw.hgetall(key)
        assert record["client_id"] == pending.client_id and record["scope"] == "mcp:read mcp:write"
        assert await raw.hget(f"{prefix}mcp:token:{token_hash(reference.mcp_tokens['all'])}", "isActive") == "true"

        grant = await reference.oauth_tokens.resolve(access)
        assert grant is not None and set(grant.service_ids) == set(reference.services)

        # Revocation reaches through Redis at once.
        await reference.mcp_registry.revoke(reference.mcp_tokens["all"])
        assert await reference.oauth_tokens.resolve(access) is None
        assert await raw.exists(key) == 0

        # Single-service with the private service's token, on Redis too.
        single = await oauth.start(service_id="quote")
        token = await oauth.access_token(single, service_token=reference.service_tokens["quote"])
        assert (await reference.oauth_tokens.resolve(token)).service_id == "quote"

        # Nothing in Redis holds a plain credential.
        secrets_ = [access, token, *reference.mcp_tokens.values(), *reference.service_tokens.values()]
        async for name in raw.scan_iter(match=prefix + "*"):
            assert not any(s in name for s in secrets_)
            if await raw.type(name) == "hash":
                values = (await raw.hgetall(name)).values()
                assert not any(s in v for v in values for s in secrets_), name
