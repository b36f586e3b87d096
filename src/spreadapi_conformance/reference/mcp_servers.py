"""The SDK servers behind the MCP endpoints: one low-level ``Server`` per family.

The handlers read the authenticated ``McpAccess`` from the HTTP request the SDK hands them, so one
server serves every service and every token: ``tools/list`` and ``tools/call`` answer for the
caller's services (``mcp_schemas``, ``mcp_tools``), and ``initialize`` carries the caller's own
server name and instructions (``mcp_guidance``).
"""

from __future__ import annotations

import copy
from typing import Any

import mcp.types as types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from starlette.requests import Request

from .faults import active
from .mcp_auth import ACCESS_KEY, Family, McpAccess
from .mcp_guidance import bridge_instructions, service_instructions
from .mcp_schemas import bridge_tools, service_tools
from .mcp_tools import call_bridge_tool, call_service_tool

__all__ = ["VERSION", "build_server"]


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("spreadapi-conformance")
    except Exception:  # not installed (a source checkout on sys.path)
        return "0"


VERSION = _version()


def _access(ctx: ServerRequestContext[Any, Any]) -> tuple[McpAccess, Any]:
    request = ctx.request
    access = request.scope.get(ACCESS_KEY) if isinstance(request, Request) else None
    if not isinstance(access, McpAccess):  # cannot happen behind the endpoints (mcp_endpoints); fail closed
        raise MCPError(types.INTERNAL_ERROR, "No authenticated access for this request")
    return access, request.app.state.catalog


def _identity(access: McpAccess) -> dict[str, str]:
    """The ``serverInfo`` and ``instructions`` this access sees."""
    if access.family == "service":
        service = access.services[0]
        return {
            "name": f"spreadapi-{service.id}",
            "title": service.title,
            "description": service.description or service.title,
            "instructions": service_instructions(service),
        }
    title = "SpreadAPI (ChatGPT connector)" if access.family == "oauth" else "SpreadAPI MCP bridge"
    return {
        "name": "spreadapi" if access.family == "oauth" else "spreadapi-bridge",
        "title": title,
        "description": f"{len(access.services)} spreadsheet calculation service(s)",
        "instructions": bridge_instructions(access.services),
    }


class _PerCaller:
    """Server middleware: ``initialize`` answers with the caller's service name and instructions, and
    2026-07-28 results carry the same ``serverInfo`` stamp (the SDK's own are fixed per server)."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: Any) -> Any:
        result = await call_next(ctx)
        if not isinstance(result, dict) or not isinstance(ctx.request, Request):
            return result
        access = ctx.request.scope.get(ACCESS_KEY)
        if not isinstance(access, McpAccess):
            return result
        identity = _identity(access)
        if active(ctx.request.app.state.catalog.faults, "mcp-cache-hints-dropped"):
            # The fault: the result is rebuilt from the fields the handshake-era code knew.
            result = {k: v for k, v in result.items() if k not in ("ttlMs", "cacheScope")}
        if ctx.method == "initialize" and isinstance(result.get("serverInfo"), dict):
            info = dict(result["serverInfo"])
            # Only fields the negotiated revision already has (the SDK sieved them per version).
            info.update({k: identity[k] for k in ("name", "title", "description") if k in info})
            result = {**result, "serverInfo": info, "instructions": identity["instructions"]}
        meta = result.get("_meta")
        if isinstance(meta, dict) and isinstance(meta.get(types.SERVER_INFO_META_KEY), dict):
            stamp = dict(meta[types.SERVER_INFO_META_KEY])
            stamp.update({k: identity[k] for k in ("name", "title", "description") if k in stamp})
            result = {**result, "_meta": {**meta, types.SERVER_INFO_META_KEY: stamp}}
        return result


async def _list_tools(
    ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    access, catalog = _access(ctx)
    tools = service_tools(access.services[0]) if access.family == "service" else bridge_tools(access.services)
    tools = [_with_faults(tool, catalog.faults) for tool in tools]
    if active(catalog.faults, "mcp-tool-description-counts-calls"):
        tools = [_with_call_count(tool, catalog, access) for tool in tools]
    return types.ListToolsResult(tools=tools)


def _with_call_count(tool: types.Tool, catalog: Any, access: McpAccess) -> types.Tool:
    """The fault ``mcp-tool-description-counts-calls``: spreadapi_calc's description says how often the
    caller's services have been calculated, so every tools/call changes what tools/list answers."""
    if tool.name != "spreadapi_calc":
        return tool
    count = sum(_calls(catalog).get(service.id, 0) for service in access.services)
    return tool.model_copy(update={"description": f"{tool.description}\n({count} calculations so far)"})


def _calls(catalog: Any) -> dict[str, int]:
    """Per service id, the tools/call requests answered (kept only under the fault above)."""
    return catalog.__dict__.setdefault("fault_calls", {})


def _with_faults(tool: types.Tool, faults: frozenset[str]) -> types.Tool:
    if active(faults, "mcp-schema-untyped") and tool.name == "spreadapi_calc":
        untyped = {"type": "object", "properties": {"inputs": {"type": "object"}}, "required": ["inputs"]}
        tool = tool.model_copy(update={"input_schema": untyped})
    if active(faults, "mcp-no-output-schema"):
        tool = tool.model_copy(update={"output_schema": None, "annotations": None})
    if active(faults, "mcp-number-inputs-mirrored") and tool.name == "spreadapi_calc":
        tool = tool.model_copy(update={"input_schema": _numbers_mirrored(tool.input_schema)})
    return tool


def _numbers_mirrored(schema: dict[str, Any]) -> dict[str, Any]:
    """The fault ``mcp-number-inputs-mirrored``: every number input is marked for mirroring into an
    Mcp-Param header, which x-mcp-header does not allow for type number."""
    mirrored = copy.deepcopy(schema)
    for name, prop in mirrored["properties"]["inputs"].get("properties", {}).items():
        if prop.get("type") == "number":
            prop["x-mcp-header"] = name.title()
    return mirrored


async def _call_tool(ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> types.CallToolResult:
    access, catalog = _access(ctx)
    if active(catalog.faults, "mcp-logs-every-call") or active(catalog.faults, "mcp-logs-without-capability"):
        # The fault: every call is logged by hand, whatever the client asked for (the SDK's ctx.log would
        # honour a 2026-07-28 request's opt-in and the handshake era's logging/setLevel).
        logged = types.LoggingMessageNotificationParams(level="info", logger="spreadapi", data=f"{params.name} called")
        notification = types.LoggingMessageNotification(params=logged)
        await ctx.session.send_notification(notification, related_request_id=ctx.request_id)
    if active(catalog.faults, "mcp-tool-description-counts-calls"):
        calls = _calls(catalog)
        for service in access.services:
            calls[service.id] = calls.get(service.id, 0) + 1
    if access.family == "service":
        return await call_service_tool(catalog, access.services[0], params.name, params.arguments)
    return await call_bridge_tool(catalog, access.services, params.name, params.arguments)


async def _discover(ctx: ServerRequestContext[Any, Any], params: types.RequestParams | None) -> types.DiscoverResult:
    access, _catalog = _access(ctx)
    server: Server[Any] = ctx.request.app.state.mcp.servers[access.family]
    return types.DiscoverResult(
        supported_versions=list(MODERN_PROTOCOL_VERSIONS),
        capabilities=server.get_capabilities(protocol_version=ctx.protocol_version),
        instructions=_identity(access)["instructions"],
    )


# The reference has tools only. Prompts and resources are declared but empty, so generic clients (and the
# official suite's list and caching scenarios) get lists instead of -32601; reading any resource is "not
# found" and getting any prompt is "unknown prompt" (both -32602, as the spec's error tables and the SDK's
# MCPServer answer them: a declared capability's methods exist). logging/setLevel (handshake revisions) is
# accepted: the server never sends log messages, so any level is honoured.


async def _no_prompts(ctx: ServerRequestContext[Any, Any], params: Any) -> types.ListPromptsResult:
    return types.ListPromptsResult(prompts=[])


async def _no_resources(ctx: ServerRequestContext[Any, Any], params: Any) -> types.ListResourcesResult:
    return types.ListResourcesResult(resources=[])


async def _no_templates(ctx: ServerRequestContext[Any, Any], params: Any) -> types.ListResourceTemplatesResult:
    return types.ListResourceTemplatesResult(resource_templates=[])


async def _read_resource(ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams) -> Any:
    if active(_access(ctx)[1].faults, "mcp-resource-not-found-32002"):
        # The fault: 2025-11-25's code for a missing resource, kept at 2026-07-28, which retired it.
        raise MCPError(-32002, f"Resource not found: {params.uri}", {"uri": params.uri})
    raise MCPError(types.INVALID_PARAMS, f"Resource not found: {params.uri}", {"uri": params.uri})


async def _get_prompt(ctx: ServerRequestContext[Any, Any], params: types.GetPromptRequestParams) -> Any:
    if active(_access(ctx)[1].faults, "mcp-unknown-prompt-method-not-found"):
        raise MCPError(types.METHOD_NOT_FOUND, f"Unknown prompt: {params.name}")  # the fault: the wrong code
    raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {params.name}", {"name": params.name})


async def _set_level(ctx: ServerRequestContext[Any, Any], params: types.SetLevelRequestParams) -> types.EmptyResult:
    return types.EmptyResult()


async def _ping(ctx: ServerRequestContext[Any, Any], params: types.RequestParams | None) -> types.EmptyResult:
    if active(_access(ctx)[1].faults, "mcp-ping-unanswered"):
        raise MCPError(types.METHOD_NOT_FOUND, "Method not found")
    return types.EmptyResult()


def build_server(family: Family, faults: frozenset[str] = frozenset()) -> Server[Any]:
    names = {"service": "spreadapi-service", "bridge": "spreadapi-bridge", "oauth": "spreadapi"}
    server: Server[Any] = Server(
        names[family],
        version=VERSION,
        title="SpreadAPI reference",
        description="Spreadsheet calculations as MCP tools",
        instructions="SpreadAPI calculation services.",  # replaced per caller by _PerCaller
        on_list_tools=_list_tools,
        on_call_tool=_call_tool,
        on_list_prompts=_no_prompts,
        on_get_prompt=_get_prompt,
        on_list_resources=_no_resources,
        on_list_resource_templates=_no_templates,
        on_read_resource=_read_resource,
        on_ping=_ping,
    )
    server.add_request_handler("server/discover", types.RequestParams, _discover)
    if not active(faults, "mcp-logs-without-capability"):
        # The handler is what makes the SDK declare the logging capability; the fault leaves it out.
        server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, _set_level)
    if not active(faults, "mcp-instructions-not-per-caller"):  # the fault: the middleware is never installed
        server.middleware.append(_PerCaller())
    return server
