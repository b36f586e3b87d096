"""Running the MCP tools of the reference, shared by the single-service servers and the multi-service bridge.

Behaviour reference 3.1.6-3.1.7 (single service: ``spreadapi_calc``, ``spreadapi_batch``,
``spreadapi_get_details``) and 3.2.4 (bridge: ``spreadapi_list_services``,
``spreadapi_get_service_details``, and calc / batch taking a ``serviceId``). This module knows
nothing about HTTP or authentication: it turns a tool call into a ``CallToolResult``. The tools'
definitions are in ``mcp_schemas``, what a model is told about a service in ``mcp_guidance``.

A calculation runs exactly as ``POST /api/v1/services/{id}/execute`` does: the same coercion
(``inputs.resolve``) and the same engine (``Catalog.evaluate``), so the ``service``, ``inputs`` and
``outputs`` of a ``spreadapi_calc`` result equal the REST body's for the same inputs. Deliberate
deviations from SpreadAPI:

- Invalid inputs, an unknown or inaccessible service and a malformed batch are tool results with
  ``isError: true`` and a sentence that says what to fix (SpreadAPI: a JSON-RPC -32603 for some).
- An unknown tool is JSON-RPC ``-32602`` (SpreadAPI: -32601), as the MCP specification says.
- ``spreadapi_batch`` enforces its 2 to 20 scenarios (SpreadAPI: only declares ``minItems``).
- The bridge's access errors never list services outside the token (SpreadAPI's legacy bridge did
  not either, but answered with a protocol error rather than a tool result).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, METHOD_NOT_FOUND, CallToolResult, ResourceLink, TextContent

from ..fixtures import ServiceDef
from . import calculation
from .catalog import Catalog
from .faults import active
from .inputs import InputError, resolve
from .mcp_guidance import BATCH_MAX, BATCH_MIN, example_inputs, service_details

__all__ = [
    "BRIDGE_TOOL_NAMES",
    "SERVICE_TOOL_NAMES",
    "calculate",
    "call_bridge_tool",
    "call_service_tool",
]


SERVICE_TOOL_NAMES = ("spreadapi_calc", "spreadapi_batch", "spreadapi_get_details")
BRIDGE_TOOL_NAMES = ("spreadapi_list_services", "spreadapi_get_service_details", "spreadapi_calc", "spreadapi_batch")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, allow_nan=False)


def _ok(structured: dict[str, Any]) -> CallToolResult:
    # The text block carries the same JSON, for clients that ignore structuredContent (spec: SHOULD).
    return CallToolResult(content=[TextContent(type="text", text=_json(structured))], structured_content=structured)


def _fail(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def input_error_text(exc: InputError) -> str:
    """One sentence that names each input to fix (SpreadAPI's formatCalcError, by input name)."""
    if exc.error == "Missing required parameters":
        names = ", ".join(item["name"] for item in exc.details.get("required", []))
        return f'Missing required input(s): {names}. Add these keys to "inputs" and call again.'
    if exc.error == "Parameter validation failed":
        problems = "; ".join(f"{item['name']}: {item['error']}" for item in exc.details.get("errors", []))
        return f"Parameter validation failed: {problems}. Fix these inputs and call again."
    return f"{exc.error}: {exc.message}"


async def calculate(catalog: Catalog, service: ServiceDef, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The REST ``execute`` body for ``inputs`` (its metadata aside); raises InputError."""
    return await calculation.calculate(catalog, service, resolve(service, inputs, catalog.faults))


def _inputs_problem(inputs: Any, service: ServiceDef, tool: str) -> str | None:
    if isinstance(inputs, dict):
        return None
    example = json.dumps(example_inputs(service), ensure_ascii=False)
    got = "nothing" if inputs is None else f"a JSON {_kind(inputs)}"
    return f'"inputs" must be an object of input values keyed by name, e.g. {tool}: {{"inputs": {example}}}; got {got}.'


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


async def _calc(catalog: Catalog, service: ServiceDef, arguments: Mapping[str, Any]) -> CallToolResult:
    inputs = arguments.get("inputs")
    if active(catalog.faults, "mcp-calc-inputs-unchecked"):
        inputs = {} if inputs is None else inputs  # the bug: whatever else came goes to the coercion as it is
    elif problem := _inputs_problem(inputs, service, "spreadapi_calc"):
        return _fail(problem)
    try:
        body = await calculate(catalog, service, inputs)
    except InputError as exc:
        if active(catalog.faults, "mcp-tool-error-as-protocol-error"):
            raise MCPError(INVALID_PARAMS, input_error_text(exc)) from None
        return _fail(input_error_text(exc))
    if active(catalog.faults, "mcp-results-rounded"):
        for output in body["outputs"]:
            output["value"] = _rounded(output["value"])
    if active(catalog.faults, "mcp-tool-results-cached-before-auth"):
        calculation.result_cache(catalog, "mcp")[calculation.result_cache_key(service.id, inputs)] = body
    return _ok(body)


def _rounded(value: Any) -> Any:
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return round(value, 2) if isinstance(value, float) else value


async def _batch(catalog: Catalog, service: ServiceDef, arguments: Mapping[str, Any]) -> CallToolResult:
    scenarios = arguments.get("scenarios")
    unbounded = active(catalog.faults, "mcp-batch-unbounded") and isinstance(scenarios, list)
    if not unbounded and (not isinstance(scenarios, list) or not BATCH_MIN <= len(scenarios) <= BATCH_MAX):
        count = f"{len(scenarios)} scenarios" if isinstance(scenarios, list) else "no array"
        return _fail(
            f'"scenarios" must be an array of {BATCH_MIN} to {BATCH_MAX} objects like '
            f'{{"label": "A", "inputs": {{…}}}}; got {count}. Use spreadapi_calc for a single calculation.'
        )
    for index, scenario in enumerate(scenarios, start=1):
        if not isinstance(scenario, dict) or not isinstance(scenario.get("inputs"), dict):
            return _fail(f'Scenario {index} must be an object with an "inputs" object (and an optional "label").')
        if "label" in scenario and not isinstance(scenario["label"], str):
            return _fail(f'Scenario {index}: "label" must be a string.')
    started = time.perf_counter()
    results = []
    for index, scenario in enumerate(scenarios, start=1):
        label = scenario.get("label") or f"Scenario {index}"
        try:
            body = await calculate(catalog, service, scenario["inputs"])
        except InputError as exc:
            if active(catalog.faults, "mcp-batch-all-or-nothing"):
                return _fail(f"Scenario {index}: {input_error_text(exc)}")
            results.append({"label": label, "error": exc.error, "message": input_error_text(exc)})
            continue
        results.append({"label": label, "inputs": body["inputs"], "outputs": body["outputs"]})
    structured = {
        "service": calculation.service_block(service),
        "scenarios": results,
        "metadata": {
            "scenarioCount": len(results),
            "successCount": sum("error" not in r for r in results),
            "executionTime": round((time.perf_counter() - started) * 1000, 3),
        },
    }
    return _ok(structured)


def _unknown_tool(name: str, known: Iterable[str], faults: frozenset[str] = frozenset()) -> MCPError:
    code = METHOD_NOT_FOUND if active(faults, "mcp-unknown-tool-method-not-found") else INVALID_PARAMS
    return MCPError(code, f"Unknown tool: {name}", {"availableTools": list(known)})


async def call_service_tool(
    catalog: Catalog, service: ServiceDef, name: str, arguments: Mapping[str, Any] | None
) -> CallToolResult:
    """Run a single-service tool. An unknown tool raises MCPError (-32602); input errors are results."""
    arguments = arguments or {}
    if name == "spreadapi_calc":
        return await _calc(catalog, service, arguments)
    if name == "spreadapi_batch":
        return await _batch(catalog, service, arguments)
    if name == "spreadapi_get_details":
        details = _ok(service_details(service, required_only=active(catalog.faults, "mcp-details-required-only")))
        if active(catalog.faults, "mcp-meta-key-malformed"):
            # The fault: the service id rides along in _meta under a key the naming rules do not allow.
            details.meta = {"spreadapi:serviceId": service.id}
        if active(catalog.faults, "mcp-details-link-at-every-revision"):
            # The fault: a link to the service's OpenAPI document, added whatever revision the session negotiated
            # (resource_link blocks exist from 2025-06-18 on; this code never asks which revision it serves).
            link = ResourceLink(
                type="resource_link",
                uri=f"spreadapi://services/{service.id}/openapi.json",
                name="openapi.json",
                mime_type="application/json",
            )
            details.content = [*details.content, link]
        return details
    raise _unknown_tool(name, SERVICE_TOOL_NAMES, catalog.faults)


def _listing(services: Sequence[ServiceDef]) -> dict[str, Any]:
    return {
        "services": [
            {
                **calculation.service_block(s),
                "inputs": [i.name for i in s.inputs],
                "outputs": [o.name for o in s.outputs],
            }
            for s in services
        ]
    }


async def call_bridge_tool(
    catalog: Catalog, services: Sequence[ServiceDef], name: str, arguments: Mapping[str, Any] | None
) -> CallToolResult:
    """Run a bridge tool over ``services`` (those the credential reaches, nothing else)."""
    arguments = arguments or {}
    if name not in BRIDGE_TOOL_NAMES:
        raise _unknown_tool(name, BRIDGE_TOOL_NAMES, catalog.faults)
    if name == "spreadapi_list_services":
        return _ok(_listing(services))
    wanted = arguments.get("serviceId")
    service = next((s for s in services if s.id == wanted), None) if isinstance(wanted, str) else None
    if service is None:
        # The same answer for an unknown service and one outside the token: nothing about others leaks.
        accessible = ", ".join(f'"{s.id}"' for s in services) or "none"
        shown = json.dumps(wanted, ensure_ascii=False)[:120] if wanted is not None else "nothing"
        return _fail(
            f"Service {shown} is not available with this token. Accessible services: {accessible}. "
            "Pass one of them as serviceId (spreadapi_list_services describes them)."
        )
    if name == "spreadapi_get_service_details":
        return _ok(service_details(service))
    if name == "spreadapi_calc":
        return await _calc(catalog, service, arguments)
    return await _batch(catalog, service, arguments)
