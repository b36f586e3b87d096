"""OAUTH-FLOW: the flows end to end, each ending in MCP calls with the access token.

Option 3 (multi-service): the connector is given ``/api/mcp``, the user pastes an MCP token. Option 2
(single-service): the connector is given ``/api/mcp/services/{id}`` and sends ``service_id`` and the
endpoint as ``resource``; the user pastes the service's token, or nothing for a public service. Every
flow starts from discovery, registers a client, consents as the target file says and redeems the code;
the results of ``tools/call`` are compared with the oracle (the fixture workbook evaluated locally).

Audience binding is checked on every OAuth option the target claims, a server that is not SpreadAPI
included: a token issued for one MCP server of the deployment is refused at another (OAUTH-FLOW-006), and
a token requested for a foreign resource is refused or does not open the endpoint (OAUTH-FLOW-007).
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import pytest

from spreadapi_conformance.consent import ConsentError

from ..answers import json_object
from ..mcp._support import target_session
from ..premise import not_applicable
from ._support import (
    MULTI,
    Resource,
    access_token,
    any_grant,
    assert_refused,
    authorization_params,
    discovered,
    excerpt,
    first_resource,
    grant_for,
    granted_fixtures,
    initialize_with,
    oauth_spec,
    oracle_problem,
    pkce,
    play_consent,
    query_of,
    register,
    requested_scope,
    resources,
    single_service_resource,
    structured,
)

pytestmark = pytest.mark.conformance
FOREIGN_RESOURCE = "https://elsewhere.example/mcp"


async def token_for(client, target, resource: Resource) -> str:
    return await access_token(client, await grant_for(client, target, resource))


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
    resource = first_resource(mcp_target, MULTI)
    await calc_through(mcp_target, resource.path, await token_for(client, mcp_target, resource))


async def test_option2_private_flow_ends_in_a_calculation(mcp_target, client):
    """OAUTH-FLOW-002 MUST: Option 2, private service: service_id, the endpoint as resource and the pasted
    service token end in an access token for that endpoint; tools/call equals the oracle."""
    resource = single_service_resource(mcp_target, "quote")
    await calc_through(mcp_target, resource.path, await token_for(client, mcp_target, resource), "quote")


async def test_option2_public_flow_needs_no_token(mcp_target, client):
    """OAUTH-FLOW-003 MUST: Option 2, public service: nothing pasted; the access token opens its endpoint
    and computes a golden case equal to the oracle."""
    resource = single_service_resource(mcp_target, "loan-calculator")
    token = await token_for(client, mcp_target, resource)
    await calc_through(mcp_target, resource.path, token, "loan-calculator")


def server_built(grant) -> None:
    if not grant.by_server:
        not_applicable("the consent page, not the authorization server, builds the redirect (consent = json)")


async def test_state_is_returned_verbatim(client, target):
    """OAUTH-FLOW-004 MUST: the authorization response returns state exactly as sent (once), spaces and
    reserved characters included."""
    state = f"s p+a/c=e&~{secrets.token_hex(4)}"
    grant = await any_grant(client, target, state=state)
    server_built(grant)
    returned = parse_qs(urlsplit(grant.location).query, keep_blank_values=True).get("state", [])
    assert returned == [state], f"state came back as {returned!r}, sent {state!r}"


async def test_authorization_response_names_the_issuer(client, target):
    """OAUTH-FLOW-005 SHOULD: the authorization response carries iss equal to the issuer (RFC 9207), as the
    metadata's authorization_response_iss_parameter_supported announces."""
    grant = await any_grant(client, target)
    server_built(grant)
    issuer = grant.found.issuer
    assert grant.answer.get("iss") == issuer, f"iss is {grant.answer.get('iss')!r}, issuer {issuer!r}"


async def test_announced_issuer_parameter_is_sent(client, target):
    """OAUTH-FLOW-008 MUST: an authorization server whose metadata announces
    authorization_response_iss_parameter_supported: true puts iss, equal to its issuer, in the authorization
    response (RFC 9207 §2, §2.3: the announcement is a promise the client relies on)."""
    grant = await any_grant(client, target)
    server_built(grant)
    if grant.found.metadata.get("authorization_response_iss_parameter_supported") is not True:
        not_applicable("the metadata does not announce authorization_response_iss_parameter_supported: true")
    issuer = grant.found.issuer
    assert grant.answer.get("iss") == issuer, f"iss is {grant.answer.get('iss')!r}, issuer {issuer!r}"


async def test_tokens_work_only_where_they_were_issued_for(mcp_target, client):
    """OAUTH-FLOW-006 MUST: an access token works only at the MCP server it was issued for: each MCP server's
    token opens its own endpoint and is refused (401) by another protected endpoint of the deployment."""
    found = resources(mcp_target)
    protected = [r for r in found if r.challenged]
    pairs = {}
    for issued in found:
        other = next((r for r in protected if r.path != issued.path), None)
        if other is not None:
            pairs.setdefault(issued.path, (issued, other))
    if not pairs:
        not_applicable("the deployment offers the kit one MCP server to authorize for: no other endpoint to refuse it")
    base = mcp_target.base_url.rstrip("/")
    for issued, other in pairs.values():
        token = await token_for(client, mcp_target, issued)
        own = await initialize_with(client, base + issued.path, token)
        assert own.status_code == 200, f"the token of {issued.what} at its own endpoint: {excerpt(own)}"
        assert_refused(
            await initialize_with(client, base + other.path, token), f"the token of {issued.what} at {other.what}"
        )


async def test_token_for_a_foreign_resource_does_not_open_the_endpoint(mcp_target, client):
    """OAUTH-FLOW-007 MUST: a token requested for a resource that is not this MCP server is refused (at the
    authorization or token endpoint) or does not open the endpoint (401): the server accepts only tokens
    issued for it."""
    resource = first_resource(mcp_target)
    await access_token(client, await grant_for(client, mcp_target, resource))  # control: the flow works
    spec = oauth_spec(mcp_target)
    found = await discovered(client, mcp_target, resource)
    client_id = await register(client, mcp_target, found)
    verifier, code_challenge = pkce()
    scope = requested_scope(found)
    params = authorization_params(
        client_id, spec.redirect_uri, code_challenge, **resource.params, resource=FOREIGN_RESOURCE, scope=scope
    )
    try:
        authorized = await play_consent(
            client, mcp_target, found.endpoint_of("authorization_endpoint"), params, resource.pasted
        )
    except ConsentError:
        return  # refused at the authorization endpoint (the same flow for this server's resource succeeded)
    code = query_of(authorized.location).get("code")
    if not code:
        return  # an error redirect: refused
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": spec.redirect_uri,
        "client_id": client_id,
        "code_verifier": verifier,
        "resource": FOREIGN_RESOURCE,
    }
    exchanged = await client.post(found.endpoint_of("token_endpoint"), data=data)
    if exchanged.status_code != 200:
        return  # refused at the token endpoint (invalid_target, say)
    token = json_object(exchanged).get("access_token")
    assert isinstance(token, str) and token, f"a 200 without an access_token: {excerpt(exchanged)}"
    endpoint = mcp_target.base_url.rstrip("/") + resource.path
    assert_refused(
        await initialize_with(client, endpoint, token),
        f"a token issued for {FOREIGN_RESOURCE} presented at {resource.what}",
    )
