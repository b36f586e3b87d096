"""A token store that does not answer: what needs it gets a 503 JSON error, never a 500 or a traceback.

The Redis client is real, pointed at a loopback port nobody listens on (connection refused, which is
what a stopped Redis looks like). Before ``StoreUnavailable``, redis-py's ConnectionError reached the
app's catch-all handler: 500 "Internal server error" on every endpoint that reads a credential. That
service resumes once Redis is back, and that no credential is lost, is shown against a real restart
by ``suites/serve/test_load_outage.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest

from spreadapi_conformance.reference.app import Reference
from spreadapi_conformance.reference.config import ReferenceConfig
from spreadapi_conformance.reference.credentials import (
    MCP_TOKEN_PREFIX,
    OAUTH_TOKEN_PREFIX,
    SERVICE_TOKEN_PREFIX,
    new_token,
)
from spreadapi_conformance.reference.store import RedisStore, StoreUnavailable
from spreadapi_conformance.threaded import free_port

from .conftest import REDIS_URL

JSON_RPC = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


@pytest.fixture
def stopped_redis() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
async def client(stopped_redis: str) -> AsyncIterator[httpx.AsyncClient]:
    reference = Reference(ReferenceConfig(store_url=stopped_redis, warm_up=False))
    transport = httpx.ASGITransport(app=reference.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await reference.aclose()


OPERATIONS = {
    "get": ("k",),
    "hgetall": ("k",),
    "htake": ("k",),
    "hset": ("k", {"a": "b"}, 5),
    "delete": ("k",),
    "scan": (),
    "incr": ("k", 5),
}


@pytest.mark.parametrize(("operation", "args"), OPERATIONS.items(), ids=list(OPERATIONS))
async def test_store_operations_raise_store_unavailable(stopped_redis, operation, args):
    store = RedisStore(stopped_redis)
    try:
        with pytest.raises(StoreUnavailable):
            await getattr(store, operation)(*args)
        assert await store.ping() is False
    finally:
        await store.aclose()


def assert_unavailable(response: httpx.Response, error: str, message_field: str) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["error"] == error and "try again" in body[message_field], body
    assert response.headers["retry-after"] == "1"
    assert "Traceback" not in response.text and "127.0.0.1" not in response.text  # no internals


async def test_rest_execute_of_a_private_service_is_503(client):
    headers = {"Authorization": f"Bearer {new_token(SERVICE_TOKEN_PREFIX)}"}
    response = await client.post("/api/v1/services/quote/execute", json={"inputs": {}}, headers=headers)
    assert_unavailable(response, "Service unavailable", "message")
    assert response.headers["access-control-allow-origin"] == "*"  # a browser client can read the 503


async def test_a_public_service_does_not_need_the_store(client):
    body = {"inputs": {"principal": 1000, "rate": "5%", "years": 10}}
    response = await client.post("/api/v1/services/loan-calculator/execute", json=body)
    assert response.status_code == 200, response.text


async def test_oauth_endpoints_answer_temporarily_unavailable(client):
    registered = await client.post("/oauth/register", json={"redirect_uris": ["http://127.0.0.1:9/cb"]})
    assert_unavailable(registered, "temporarily_unavailable", "error_description")
    form = {"grant_type": "authorization_code", "code": new_token("ac_"), "redirect_uri": "http://127.0.0.1:9/cb"}
    exchanged = await client.post("/api/oauth/token", data={**form, "client_id": "dcr_x", "code_verifier": "v" * 43})
    assert_unavailable(exchanged, "temporarily_unavailable", "error_description")


@pytest.mark.parametrize(
    ("path", "prefix"),
    [("/api/mcp/bridge", MCP_TOKEN_PREFIX), ("/api/mcp", OAUTH_TOKEN_PREFIX)],
    ids=["bridge", "oauth"],
)
async def test_mcp_endpoints_answer_503_before_any_json_rpc(client, path, prefix):
    """The MCP endpoints authenticate every HTTP request before the SDK reads JSON-RPC, so a store that
    does not answer is the same HTTP 503 as on the REST API (an MCP client's transport reports it)."""
    headers = {**JSON_RPC, "Authorization": f"Bearer {new_token(prefix)}"}
    response = await client.post(path, json=INITIALIZE, headers=headers)
    assert_unavailable(response, "Service unavailable", "message")


@pytest.mark.redis
async def test_more_concurrent_commands_than_pooled_connections_wait_for_one():
    """redis-py's default pool refuses its 101st connection at once ("Too many connections"): under 200
    concurrent clients (benchmarks/load.py) that was a 503 with Redis up. The store's pool is bounded too,
    but a command beyond it waits for a free connection."""
    store = RedisStore(REDIS_URL, prefix=f"test:{uuid4().hex}:")
    try:
        assert await store.ping(), f"no Redis at {REDIS_URL}"
        answers = await asyncio.gather(*(store.get(f"k{i}") for i in range(300)))
        assert answers == [None] * 300
    finally:
        await store.aclose()
