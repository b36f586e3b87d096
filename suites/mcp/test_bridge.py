"""The multi-service servers: ``/api/mcp/bridge`` (MCP tokens) and ``/api/mcp`` (OAuth, ChatGPT), in process.

Both serve the bridge tools over exactly the services their credential reaches: an MCP token's
list, or the services an ``oat_`` grant wraps. Results equal the REST ``execute`` of the same inputs.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import mcp.types as types
import pytest
from mcp.shared.exceptions import MCPError

from spreadapi_conformance.checks.mcp._support import (
    BRIDGE_TOOLS,
    LATEST,
    MODERN,
    REVISIONS,
    instructions,
    mcp_session,
    multi_service_oat,
    rest_result,
    service_path,
    tool_json,
    tool_text,
)
from spreadapi_conformance.fixtures import load_services

SERVICES = load_services()
ALL_IDS = list(SERVICES)


async def credential(kind: str, reference: Any, oauth: Any, service_ids: list[str] | None = None) -> tuple[str, str]:
    """(path, token) for the bridge or /api/mcp, reaching ``service_ids`` (default: every service)."""
    mcp_token = reference.mcp_tokens["all"]
    if service_ids is not None:
        mcp_token = await reference.mcp_registry.issue(service_ids, name="bridge test")
    if kind == "bridge":
        return "/api/mcp/bridge", mcp_token
    return "/api/mcp", await multi_service_oat(oauth, mcp_token)


async def rest_body(http: Any, reference: Any, service_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    token = reference.service_tokens.get(service_id)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await http.post(f"/api/v1/services/{service_id}/execute", json={"inputs": inputs}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def listed(listing: types.ListToolsResult, name: str) -> types.Tool:
    return next(t for t in listing.tools if t.name == name)


KINDS = ["bridge", "oauth"]


@pytest.mark.parametrize("revision", REVISIONS)
@pytest.mark.parametrize("kind", KINDS)
async def test_handshake_at_each_revision(reference, oauth, kind, revision):
    """The bridge and /api/mcp negotiate every revision the SDK offers and list their tools."""
    path, token = await credential(kind, reference, oauth)
    async with mcp_session(reference.app, path, token=token, revision=revision) as session:
        assert session.protocol_version == revision
        assert [t.name for t in (await session.list_tools()).tools] == BRIDGE_TOOLS
        text = instructions(session)
    assert all(f'"{service_id}"' in text for service_id in ALL_IDS), text


@pytest.mark.parametrize("kind", KINDS)
async def test_tools_reach_only_the_credentials_services(reference, oauth, kind):
    """ServiceId is an enum of the credential's services, spreadapi_list_services lists them
    and nothing else, and the instructions name no other service."""
    path, token = await credential(kind, reference, oauth, ["loan-calculator"])
    async with mcp_session(reference.app, path, token=token) as session:
        listing = await session.list_tools()
        services = await session.call_tool("spreadapi_list_services", {})
        text = instructions(session)
    for name in ("spreadapi_get_service_details", "spreadapi_calc", "spreadapi_batch"):
        assert listed(listing, name).input_schema["properties"]["serviceId"]["enum"] == ["loan-calculator"]
    assert [s["id"] for s in services.structured_content["services"]] == ["loan-calculator"]
    jsonschema.validate(services.structured_content, listed(listing, "spreadapi_list_services").output_schema)
    assert "quote" not in text and "edge-cases" not in text, text


@pytest.mark.parametrize("tool", ["spreadapi_calc", "spreadapi_get_service_details", "spreadapi_batch"])
@pytest.mark.parametrize("kind", KINDS)
async def test_inaccessible_service_is_an_error_naming_the_accessible_ones(reference, oauth, kind, tool):
    """A service outside the credential is an isError result that names the accessible
    services, worded exactly as for a service that does not exist (nothing about others leaks)."""
    path, token = await credential(kind, reference, oauth, ["loan-calculator"])
    arguments = {"inputs": {"product": "widget", "quantity": 1}, "scenarios": [{"inputs": {}}, {"inputs": {}}]}
    async with mcp_session(reference.app, path, token=token) as session:
        hidden = await session.call_tool(tool, {**arguments, "serviceId": "quote"})
        unknown = await session.call_tool(tool, {**arguments, "serviceId": "no-such-svc"})
        missing = await session.call_tool(tool, arguments)
    for result in (hidden, unknown, missing):
        assert result.is_error, result
        assert '"loan-calculator"' in tool_text(result), tool_text(result)
        assert "edge-cases" not in tool_text(result)
    assert tool_text(hidden).replace('"quote"', "X") == tool_text(unknown).replace('"no-such-svc"', "X")


@pytest.mark.parametrize("kind", KINDS)
async def test_token_without_services_reaches_none(reference, oauth, kind):
    """An MCP token granting no service lists none and computes nothing (bridge); on
    /api/mcp such a token cannot even be authorized."""
    if kind == "oauth":
        empty = await reference.mcp_registry.issue([], name="empty")
        pending = await oauth.start(resource="http://testserver/api/mcp")
        response = await oauth.approve_form(pending, mcp_tokens=empty)
        assert response.status_code == 400, "an authorization reaching no service must be refused"
        return
    path, token = await credential(kind, reference, oauth, [])
    async with mcp_session(reference.app, path, token=token) as session:
        services = await session.call_tool("spreadapi_list_services", {})
        result = await session.call_tool("spreadapi_calc", {"serviceId": "loan-calculator", "inputs": {}})
    assert services.structured_content == {"services": []}
    assert result.is_error and "none" in tool_text(result), tool_text(result)


@pytest.mark.parametrize("service_id", ALL_IDS)
@pytest.mark.parametrize("kind", KINDS)
async def test_golden_cases_equal_rest(reference, oauth, http, kind, service_id):
    """Spreadapi_calc({serviceId, inputs}) on every golden case gives the service, inputs
    and outputs of REST execute for the same inputs, valid against the outputSchema."""
    path, token = await credential(kind, reference, oauth)
    async with mcp_session(reference.app, path, token=token, revision=MODERN) as session:
        schema = listed(await session.list_tools(), "spreadapi_calc").output_schema
        for case in SERVICES[service_id].golden:
            result = await session.call_tool("spreadapi_calc", {"serviceId": service_id, "inputs": case["inputs"]})
            assert not result.is_error, (case["title"], tool_text(result))
            jsonschema.validate(result.structured_content, schema)
            assert tool_json(result) == result.structured_content
            expected = rest_result(await rest_body(http, reference, service_id, case["inputs"]))
            assert rest_result(result.structured_content) == expected, case["title"]


@pytest.mark.parametrize("kind", KINDS)
async def test_batch_and_details(reference, oauth, http, kind):
    """Spreadapi_batch({serviceId, scenarios}) computes each scenario as REST does, and
    spreadapi_get_service_details answers what the single-service spreadapi_get_details answers."""
    path, token = await credential(kind, reference, oauth)
    cases = [case["inputs"] for case in SERVICES["quote"].golden[:4]]
    async with mcp_session(reference.app, path, token=token) as session:
        batch = await session.call_tool(
            "spreadapi_batch",
            {"serviceId": "quote", "scenarios": [{"label": str(i), "inputs": c} for i, c in enumerate(cases)]},
        )
        details = await session.call_tool("spreadapi_get_service_details", {"serviceId": "quote"})
    assert not batch.is_error, tool_text(batch)
    for inputs, got in zip(cases, batch.structured_content["scenarios"], strict=True):
        body = await rest_body(http, reference, "quote", inputs)
        assert (got["inputs"], got["outputs"]) == (body["inputs"], body["outputs"])
    async with mcp_session(reference.app, service_path("quote"), token=reference.service_tokens["quote"]) as single:
        own = await single.call_tool("spreadapi_get_details", {})
    assert details.structured_content == own.structured_content


@pytest.mark.parametrize("revision", [LATEST, MODERN])
@pytest.mark.parametrize("kind", KINDS)
async def test_unknown_tool_and_method(reference, oauth, kind, revision):
    """A tool the bridge does not have (even a single-service one) is -32602; an unknown
    method -32601; bad inputs an isError result."""
    path, token = await credential(kind, reference, oauth)
    async with mcp_session(reference.app, path, token=token, revision=revision) as session:
        with pytest.raises(MCPError) as tool_error:
            await session.call_tool("spreadapi_get_details", {})
        with pytest.raises(MCPError) as method_error:
            await session.send_request(types.Request[Any, Any](method="tools/nothing", params=None), types.EmptyResult)
        bad = await session.call_tool("spreadapi_calc", {"serviceId": "quote", "inputs": {"product": "anvil"}})
    assert tool_error.value.code == types.INVALID_PARAMS
    assert method_error.value.code == types.METHOD_NOT_FOUND
    assert bad.is_error and "quantity" in tool_text(bad), tool_text(bad)  # missing inputs are reported first


async def test_grant_is_limited_to_what_was_consented(reference, oauth):
    """/api/mcp reaches the services granted at consent; a service added to the MCP token
    later is not included (the grant is what the user approved)."""
    mcp_token = await reference.mcp_registry.issue(["edge-cases"], name="consent")
    token = await multi_service_oat(oauth, mcp_token)
    async with mcp_session(reference.app, "/api/mcp", token=token) as session:
        services = await session.call_tool("spreadapi_list_services", {})
    assert [s["id"] for s in services.structured_content["services"]] == ["edge-cases"]
