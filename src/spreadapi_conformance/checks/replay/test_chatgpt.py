"""REPLAY-CHATGPT: a ChatGPT connector (Option 3) replayed as the host runs it, from the MCP URL alone.

The host is given ``{base}/api/mcp``. Its HTTP fetcher meets the 401, reads the RFC 9728 document it
names and the issuer's RFC 8414 metadata, and registers a client (RFC 7591). The OAuth client side is
Authlib's ``AsyncOAuth2Client`` (PKCE ``S256``, ``state``, the scopes the resource lists, RFC 8707
``resource``): it builds the authorization URL, which the user's browser opens and approves (the consent
form, with the MCP token of the target file pasted), then checks the returned ``state`` and redeems the
code at the token endpoint. With the access token, the MCP SDK's client initializes ``/api/mcp``, lists
the tools and calls them; the results must equal the oracle's.

The three checks share one access token per target (the first to run obtains it), as a connector reuses
its token; each fails on its own step.
"""

from __future__ import annotations

import secrets
import sys
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc6749.errors import OAuth2Error

from ..mcp._support import target_session
from ..oauth._support import (
    consent_premise,
    discover,
    granted_fixtures,
    mcp_token,
    oracle_problem,
    play_consent,
    register,
    same_redirect,
    structured,
    trusted_for_pasting,
)

if TYPE_CHECKING:
    from ..target import Target


pytestmark = pytest.mark.conformance


_TOKENS: dict[str, dict[str, Any]] = {}  # base URL -> the connector's token


def _http_package() -> Any:
    """The HTTP package Authlib's client is built on: ``httpx2`` in Authlib 1.9+, ``httpx`` before."""
    base = next(c for c in AsyncOAuth2Client.__mro__ if c.__name__ == "AsyncClient")
    return sys.modules[base.__module__.split(".")[0]]


def authlib_client(target: Target, **kwargs: Any) -> AsyncOAuth2Client:
    """Authlib's OAuth client on the target's transport, with the target's hooks (guard, pace, evidence)."""
    transport = _http_package().ASGITransport(app=target.app) if target.app is not None else None
    return AsyncOAuth2Client(
        transport=transport,
        timeout=30,
        event_hooks=target.hooks(),
        code_challenge_method="S256",
        **kwargs,
    )


async def connect(client: httpx.AsyncClient, target: Target) -> dict[str, Any]:
    """The connector's setup, from the MCP URL to an access token."""
    consent_premise(target)
    pasted = mcp_token(target)
    found = await discover(client, target.url("mcp"))  # the 401, RFC 9728, RFC 8414
    redirect_uri = target.spec.oauth.redirect_uri
    client_id = await register(client, target, found)
    scopes = found.resource.get("scopes_supported")
    async with authlib_client(
        target,
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=" ".join(scopes) if isinstance(scopes, list) and scopes else None,
        token_endpoint_auth_method="none",
    ) as oauth:
        verifier = secrets.token_urlsafe(48)
        authorize_url = trusted_for_pasting(target, found.endpoint_of("authorization_endpoint"))
        url, state = oauth.create_authorization_url(authorize_url, code_verifier=verifier, resource=found.endpoint)
        authorized = await play_consent(client, target, url, None, {"mcp_tokens": pasted}, redirect_uri)
        location = authorized.location
        assert same_redirect(location, redirect_uri), f"redirected to {location!r}, not {redirect_uri!r}"
        try:
            token = await oauth.fetch_token(
                found.endpoint_of("token_endpoint"),
                authorization_response=location,
                state=state,
                code_verifier=verifier,
                resource=found.endpoint,
            )
        except (OAuth2Error, OAuthError) as exc:  # Authlib, as the connector, refuses what the server answered
            raise AssertionError(f"the connector's OAuth client refused the server's answer: {exc}") from exc
    assert isinstance(token.get("access_token"), str) and token["access_token"], f"no access token: {dict(token)}"
    assert str(token.get("token_type", "")).lower() == "bearer", f"token_type is {token.get('token_type')!r}"
    return dict(token)


async def connector_token(client: httpx.AsyncClient, target: Target) -> str:
    if target.base_url not in _TOKENS:
        _TOKENS[target.base_url] = await connect(client, target)
    return _TOKENS[target.base_url]["access_token"]


async def test_connector_obtains_a_token_with_authlib(client, target):
    """REPLAY-CHATGPT-001 MUST: from /api/mcp's 401 on, Authlib as the connector's OAuth client gets a Bearer
    access token: metadata, registration, authorize with PKCE S256 and resource, consent, state, exchange."""
    _TOKENS[target.base_url] = await connect(client, target)


async def test_connector_initializes_and_lists_tools(mcp_target, client):
    """REPLAY-CHATGPT-002 MUST: with the connector's token the SDK client initializes /api/mcp and lists the
    SpreadAPI tools, spreadapi_calc among them, each with an object input schema."""
    token = await connector_token(client, mcp_target)
    async with target_session(mcp_target, mcp_target.path("mcp"), token) as session:
        result = session.initialize_result or session.discover_result
        assert result is not None and result.server_info.name, "initialize named no server"
        tools = (await session.list_tools()).tools
    names = [tool.name for tool in tools]
    assert "spreadapi_calc" in names, f"tools/list: {names}"
    untyped = [tool.name for tool in tools if (tool.input_schema or {}).get("type") != "object"]
    assert not untyped, f"tools without an object input schema: {untyped}"


async def test_connector_calculations_equal_the_oracle(mcp_target, client):
    """REPLAY-CHATGPT-003 MUST: through the connector, spreadapi_calc answers every golden case of the
    services the token grants with the oracle's outputs."""
    token = await connector_token(client, mcp_target)
    problems = []
    async with target_session(mcp_target, mcp_target.path("mcp"), token) as session:
        granted = granted_fixtures(mcp_target, await session.call_tool("spreadapi_list_services", {}))
        for fixture_id in granted:
            service_id = mcp_target.published(fixture_id).id
            for case in mcp_target.fixture(fixture_id).golden:
                result = await session.call_tool("spreadapi_calc", {"serviceId": service_id, "inputs": case["inputs"]})
                if result.is_error:
                    problems.append(f"{fixture_id}: {case['title']}: the tool answered an error: {result.content}")
                elif problem := oracle_problem(fixture_id, case, structured(result)):
                    problems.append(problem)
    assert not problems, "; ".join(problems)
