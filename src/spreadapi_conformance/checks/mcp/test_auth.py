"""MCP-AUTH: authentication at the MCP endpoints, with nothing but the target file: challenges
(RFC 6750 §3, RFC 9728 §5.1), header-only tokens, a private single-service endpoint, the legacy bridge.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ..premise import not_applicable
from ._support import (
    JSON_RPC_HEADERS,
    MODERN,
    challenge,
    initialize_message,
    prm_url,
    rest_execute,
    rest_result,
    said,
    service_session,
)

pytestmark = pytest.mark.conformance


def private_path(target: Any) -> str:
    return target.path("single_service_mcp", fixture="quote")


def quote_token(target: Any) -> str:
    token = target.auth("quote").get("Authorization", "").removeprefix("Bearer ")
    if not token:
        not_applicable("the target file gives no token for the private service")
    return token


async def initialize(client: httpx.AsyncClient, path: str, **headers: str) -> httpx.Response:
    return await client.post(path, json=initialize_message(), headers={**JSON_RPC_HEADERS, **headers})


async def check_challenge(client: httpx.AsyncClient, target: Any, response: httpx.Response, path: str) -> None:
    assert response.status_code == 401, said(response)
    scheme, params = challenge(response)
    assert scheme.lower() == "bearer"
    assert params.get("resource_metadata") == prm_url(target.base_url, path), params
    assert "error" not in params, "no credential was presented: RFC 6750 §3.1 says no error code"
    document = await client.get(params["resource_metadata"].removeprefix(target.base_url.rstrip("/")))
    assert document.status_code == 200, said(document)
    assert document.json()["resource"] == target.base_url.rstrip("/") + path


async def test_private_service_with_its_token(mcp_target, client):
    """MCP-AUTH-001 MUST: the private service's endpoint serves the holder of its service token."""
    mcp_target.auth("quote")  # skips when the target file has no token for it
    inputs = {"product": "gizmo", "quantity": 5, "express": "ja"}
    expected = rest_result(await rest_execute(client, mcp_target, "quote", inputs))
    async with service_session(mcp_target, "quote", MODERN) as s:
        result = await s.call_tool("spreadapi_calc", {"inputs": inputs})
    assert rest_result(result.structured_content) == expected


async def test_private_endpoint_challenges_with_its_metadata(mcp_target, client):
    """MCP-AUTH-030 MUST: the private service's endpoint without a credential is 401 with WWW-Authenticate:
    Bearer resource_metadata="…" naming its RFC 9728 document, whose resource is the endpoint's URL."""
    path = private_path(mcp_target)
    await check_challenge(client, mcp_target, await initialize(client, path), path)


async def test_oauth_endpoint_challenges_with_its_metadata(mcp_target, client):
    """MCP-AUTH-031 MUST: /api/mcp without a credential is 401 pointing at its protected-resource metadata."""
    path = mcp_target.path("mcp")
    await check_challenge(client, mcp_target, await initialize(client, path), path)


@pytest.mark.parametrize("name", ["access_token", "token"])
async def test_query_string_token_is_not_read(mcp_target, client, name):
    """MCP-AUTH-032 MUST: a valid service token in the query string is ignored: 401 as without one."""
    path = private_path(mcp_target)
    response = await client.post(
        path, json=initialize_message(), headers=JSON_RPC_HEADERS, params={name: quote_token(mcp_target)}
    )
    await check_challenge(client, mcp_target, response, path)


async def test_garbage_token_is_invalid_token(mcp_target, client):
    """MCP-AUTH-033 SHOULD: an unknown token on the private endpoint is 401 with error="invalid_token"."""
    response = await initialize(client, private_path(mcp_target), authorization="Bearer not-a-real-token")
    assert response.status_code == 401, said(response)
    assert challenge(response)[1].get("error") == "invalid_token"


@pytest.mark.parametrize("scheme", ["bearer", "BEARER"])
async def test_scheme_is_case_insensitive(mcp_target, client, scheme):
    """MCP-AUTH-034 MUST: "bearer <token>" in any case opens the private endpoint."""
    response = await initialize(client, private_path(mcp_target), authorization=f"{scheme} {quote_token(mcp_target)}")
    assert response.status_code == 200, said(response)


async def test_bridge_without_a_token_is_401(mcp_target, client):
    """MCP-AUTH-035 MUST: the bridge without a credential is 401 with a Bearer challenge."""
    response = await initialize(client, mcp_target.path("bridge_mcp"))
    assert response.status_code == 401, said(response)
    assert challenge(response)[0].lower() == "bearer"
