"""OAUTH-FLOW: the flows end to end, each ending in MCP calls with the access token.

Option 3 (multi-service): the connector is given ``/api/mcp``, the user pastes an MCP token. Option 2
(single-service): the connector is given ``/api/mcp/services/{id}`` and sends ``service_id`` and the
endpoint as ``resource``; the user pastes the service's token, or nothing for a public service. Every
flow starts from discovery, registers a client, consents through the form and redeems the code; the
results of ``tools/call`` are compared with the oracle (the fixture workbook evaluated locally).
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import pytest

from ..mcp._support import target_session
from ._support import (
    access_token,
    assert_invalid_token,
    endpoints,
    excerpt,
    granted_fixtures,
    initialize_with,
    mcp_token,
    obtain_code,
    oracle_problem,
    service_token,
    single_service,
    structured,
)

pytestmark = pytest.mark.conformance


async def multi_service_token(client, target) -> str:
    grant = await obtain_code(client, target, await endpoints(client, target), {"mcp_tokens": mcp_token(target)})
    return await access_token(client, grant)


async def single_service_token(client, target, fixture_id: str) -> str:
    found = await single_service(client, target, fixture_id)
    token = service_token(target, fixture_id)
    credentials = {"service_token": token} if token else {}
    grant = await obtain_code(client, target, found, credentials, service_id=target.published(fixture_id).id)
    return await access_token(client, grant)


async def calc_through(target, path: str, token: str, fixture_id: str | None = None) -> None:
    """initialize, tools/list, then the first golden case through ``spreadapi_calc``, equal to the oracle.

    ``fixture_id`` None: a multi-service endpoint, whose tools take the ``serviceId`` of a service the
    token grants (the first of ``spreadapi_list_services`` the target file publishes)."""
    async with target_session(target, path, token) as session:
        tools = [tool.name for tool in (await session.list_tools()).tools]
        assert "spreadapi_calc" in tools, f"tools/list: {tools}"
        arguments = {}
        if fixture_id is None:
            fixture_id = granted_fixtures(target, await session.call_tool("spreadapi_list_services", {}))[0]
            arguments["serviceId"] = target.published(fixture_id).id
        case = target.fixture(fixture_id).golden[0]
        result = await session.call_tool("spreadapi_calc", {**arguments, "inputs": case["inputs"]})
    problem = oracle_problem(fixture_id, case, structured(result))
    assert problem is None, problem


async def test_option3_flow_ends_in_a_calculation(mcp_target, client):
    """OAUTH-FLOW-001 MUST: Option 3: the pasted MCP token's grant ends in an access token with which
    /api/mcp initializes, lists its tools and computes a golden case equal to the oracle."""
    token = await multi_service_token(client, mcp_target)
    await calc_through(mcp_target, mcp_target.path("mcp"), token)


async def test_option2_private_flow_ends_in_a_calculation(mcp_target, client):
    """OAUTH-FLOW-002 MUST: Option 2, private service: service_id, the endpoint as resource and the pasted
    service token end in an access token for that endpoint; tools/call equals the oracle."""
    token = await single_service_token(client, mcp_target, "quote")
    path = mcp_target.path("single_service_mcp", fixture="quote")
    await calc_through(mcp_target, path, token, "quote")


async def test_option2_public_flow_needs_no_token(mcp_target, client):
    """OAUTH-FLOW-003 MUST: Option 2, public service: nothing pasted; the access token opens its endpoint
    and computes a golden case equal to the oracle."""
    token = await single_service_token(client, mcp_target, "loan-calculator")
    path = mcp_target.path("single_service_mcp", fixture="loan-calculator")
    await calc_through(mcp_target, path, token, "loan-calculator")


async def test_state_is_returned_verbatim(client, target):
    """OAUTH-FLOW-004 MUST: the authorization response returns state exactly as sent (once), spaces and
    reserved characters included."""
    state = f"s p+a/c=e&~{secrets.token_hex(4)}"
    found = await endpoints(client, target)
    grant = await obtain_code(client, target, found, {"mcp_tokens": mcp_token(target)}, state=state)
    returned = parse_qs(urlsplit(grant.location).query, keep_blank_values=True).get("state", [])
    assert returned == [state], f"state came back as {returned!r}, sent {state!r}"


async def test_authorization_response_names_the_issuer(client, target):
    """OAUTH-FLOW-005 SHOULD: the authorization response carries iss equal to the issuer (RFC 9207), as the
    metadata's authorization_response_iss_parameter_supported announces."""
    found = await endpoints(client, target)
    grant = await obtain_code(client, target, found, {"mcp_tokens": mcp_token(target)})
    assert grant.answer.get("iss") == found.issuer, f"iss is {grant.answer.get('iss')!r}, issuer {found.issuer!r}"


async def test_tokens_work_only_where_they_were_issued_for(mcp_target, client):
    """OAUTH-FLOW-006 MUST: an access token works only at the MCP server it was issued for: the /api/mcp
    token is refused (401) by a single-service endpoint, a single-service token by /api/mcp."""
    multi = await multi_service_token(client, mcp_target)
    single = await single_service_token(client, mcp_target, "loan-calculator")
    multi_url, single_url = mcp_target.url("mcp"), mcp_target.url("single_service_mcp", fixture="loan-calculator")
    for url, token, what in ((multi_url, multi, "the /api/mcp token"), (single_url, single, "the service token")):
        response = await initialize_with(client, url, token)
        assert response.status_code == 200, f"{what} at its own endpoint: {excerpt(response)}"
    private_url = mcp_target.url("single_service_mcp", fixture="quote")
    assert_invalid_token(await initialize_with(client, private_url, multi), "the /api/mcp token at a service")
    assert_invalid_token(await initialize_with(client, multi_url, single), "a single-service token at /api/mcp")
