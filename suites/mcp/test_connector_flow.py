"""OAUTH-FLOW: the ChatGPT connector flow (Option 3) end to end, in process, from the first 401."""

from __future__ import annotations

from spreadapi_conformance.checks.mcp._support import BRIDGE_TOOLS, JSON_RPC_HEADERS, initialize_message, tool_json

from ._connector import chatgpt_connector_flow

REDIRECT = "https://chatgpt.com/connector/oauth/c_replay01"


async def test_connector_flow_from_401_to_a_tool_call(reference, http):
    run = await chatgpt_connector_flow(http, reference.app, "http://testserver", reference.mcp_tokens["all"], REDIRECT)
    assert run.token["token_type"].lower() == "bearer" and run.token["expires_in"] == 43200
    assert run.tools == BRIDGE_TOOLS
    assert not run.calc.is_error, run.calc
    outputs = {o["name"]: o["value"] for o in tool_json(run.calc)["outputs"]}
    assert outputs["payment"] == 1342.05


async def test_revoking_the_pasted_mcp_token_closes_the_connector_at_once(fresh, fresh_http):
    run = await chatgpt_connector_flow(fresh_http, fresh.app, "http://testserver", fresh.mcp_tokens["all"], REDIRECT)
    await fresh.mcp_registry.revoke(fresh.mcp_tokens["all"])
    denied = await fresh_http.post(
        "/api/mcp",
        json=initialize_message(),
        headers={**JSON_RPC_HEADERS, "Authorization": f"Bearer {run.token['access_token']}"},
    )
    assert denied.status_code == 401 and 'error="invalid_token"' in denied.headers["www-authenticate"]
