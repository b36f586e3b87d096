"""The ChatGPT connector flow (Option 3) as a host runs it, from the first 401 to a tool call.

Shared by the in-process test and the one against `serve` over loopback: discovery starts from the
MCP endpoint's challenge, never from a known URL, so a server whose 401 does not lead to its
metadata fails here the way it would fail in ChatGPT.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import mcp.types as types

from spreadapi_conformance.checks.mcp._support import JSON_RPC_HEADERS, challenge, initialize_message, mcp_session


@dataclass
class ConnectorRun:
    resource_metadata: dict[str, Any]
    server_metadata: dict[str, Any]
    token: dict[str, Any]
    tools: list[str]
    calc: types.CallToolResult


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def chatgpt_connector_flow(
    http: httpx.AsyncClient, app: Any, base_url: str, mcp_token: str, redirect_uri: str
) -> ConnectorRun:
    """Run the flow; every step asserts what a host relies on, with what the server did instead."""
    # 1. An unauthenticated MCP request: 401 and the way to the protected-resource metadata.
    denied = await http.post("/api/mcp", json=initialize_message(), headers=JSON_RPC_HEADERS)
    assert denied.status_code == 401, f"/api/mcp without a token: HTTP {denied.status_code} {denied.text[:200]}"
    scheme, params = challenge(denied)
    assert scheme.lower() == "bearer" and "resource_metadata" in params, denied.headers.get("www-authenticate")

    # 2. Protected-resource metadata (RFC 9728), then the authorization server's (RFC 8414).
    resource = (await http.get(params["resource_metadata"])).json()
    assert resource["resource"] == f"{base_url}/api/mcp", resource
    issuer = resource["authorization_servers"][0]
    metadata = (await http.get(f"{issuer}/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == issuer and "S256" in metadata["code_challenge_methods_supported"], metadata

    # 3. Dynamic client registration (RFC 7591).
    registered = await http.post(
        metadata["registration_endpoint"], json={"client_name": "Connector replay", "redirect_uris": [redirect_uri]}
    )
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]

    # 4. The consent page with PKCE and resource (RFC 8707), approved as a browser posts its form.
    verifier, code_challenge = _pkce()
    state = secrets.token_urlsafe(12)
    page = await http.get(
        metadata["authorization_endpoint"],
        params={
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
            "state": state,
            "resource": resource["resource"],
        },
    )
    assert page.status_code == 200, page.text[:300]
    form = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', page.text))
    form.update(mcp_tokens=mcp_token, action="approve")
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1)
    approved = await http.post(action, data=form, headers={"Origin": base_url, "Sec-Fetch-Site": "same-origin"})
    assert approved.status_code in (302, 303), approved.text[:300]
    found = parse_qs(urlsplit(approved.headers["location"]).query)
    assert found["state"] == [state], found

    # 5. The token exchange.
    exchanged = await http.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": found["code"][0],
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "code_verifier": verifier,
            "resource": resource["resource"],
        },
    )
    assert exchanged.status_code == 200, exchanged.text
    token = exchanged.json()

    # 6. What the token is for: initialize, tools/list, tools/call on /api/mcp.
    async with mcp_session(app, "/api/mcp", token["access_token"], base_url=base_url) as session:
        tools = [tool.name for tool in (await session.list_tools()).tools]
        calc = await session.call_tool(
            "spreadapi_calc",
            {"serviceId": "loan-calculator", "inputs": {"principal": 250000, "rate": "5%", "years": 30}},
        )
    return ConnectorRun(resource, metadata, token, tools, calc)
