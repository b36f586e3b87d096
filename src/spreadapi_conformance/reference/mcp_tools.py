"""The MCP tools of the reference, shared by the single-service servers and the multi-service bridge.

Behaviour reference 3.1.6-3.1.7 (single service: ``spreadapi_calc``, ``spreadapi_batch``,
``spreadapi_get_details``) and 3.2.4 (bridge: ``spreadapi_list_services``,
``spreadapi_get_service_details``, and calc / batch taking a ``serviceId``). This module knows
nothing about HTTP or authentication: it turns a service definition into tool descriptions and
instructions, and a tool call into a ``CallToolResult``.

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
from datetime import UTC, datetime
from typing import Any

from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, CallToolResult, TextContent, Tool, ToolAnnotations

from ..fixtures import InputDef, ServiceDef
from .catalog import Catalog
from .describe import describe_inputs, describe_outputs
from .inputs import InputError, percentage_rule, resolve
from .openapi import inputs_schema

__all__ = [
    "BATCH_MAX",
    "BATCH_MIN",
    "BRIDGE_TOOL_NAMES",
    "SERVICE_TOOL_NAMES",
    "bridge_instructions",
    "bridge_tools",
    "calculate",
    "call_bridge_tool",
    "call_service_tool",
    "example_inputs",
    "service_details",
    "service_instructions",
    "service_tools",
]

BATCH_MIN, BATCH_MAX = 2, 20
SERVICE_TOOL_NAMES = ("spreadapi_calc", "spreadapi_batch", "spreadapi_get_details")
BRIDGE_TOOL_NAMES = ("spreadapi_list_services", "spreadapi_get_service_details", "spreadapi_calc", "spreadapi_batch")

# A calculation reads a spreadsheet and changes nothing: hosts need not ask before each call.
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

_SCALAR = {"type": ["number", "string", "boolean", "null"]}
_VALUE = {"anyOf": [_SCALAR, {"type": "array", "items": {"type": "array", "items": _SCALAR}}]}


# -- what a result looks like ------------------------------------------------------------------------


def _service_block(service: ServiceDef) -> dict[str, Any]:
    return {"id": service.id, "name": service.title, "description": service.description}


def _echo_schema(service: ServiceDef | None) -> dict[str, Any]:
    name: dict[str, Any] = {"type": "string"}
    if service is not None:
        name["enum"] = [spec.name for spec in service.inputs]
    return {
        "type": "array",
        "description": "The values written into the workbook, after coercion and defaults.",
        "items": {
            "type": "object",
            "required": ["name", "title", "value"],
            "properties": {"name": name, "title": {"type": "string"}, "value": _SCALAR},
        },
    }


def _outputs_schema(service: ServiceDef | None) -> dict[str, Any]:
    name: dict[str, Any] = {"type": "string"}
    if service is not None:
        name["enum"] = [out.name for out in service.outputs]
    return {
        "type": "array",
        "description": "Every output of the service: a number, text, boolean, null (empty cell), "
        'a formula error such as "#DIV/0!", or rows of cells for a range.',
        "items": {
            "type": "object",
            "required": ["name", "title", "value"],
            "properties": {
                "name": name,
                "title": {"type": "string"},
                "value": _VALUE,
                "formatString": {"type": "string"},
            },
        },
    }


_SERVICE_BLOCK_SCHEMA = {
    "type": "object",
    "required": ["id", "name", "description"],
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"}},
}


def _calc_output_schema(service: ServiceDef | None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["service", "inputs", "outputs", "metadata"],
        "properties": {
            "service": _SERVICE_BLOCK_SCHEMA,
            "inputs": _echo_schema(service),
            "outputs": _outputs_schema(service),
            "metadata": {
                "type": "object",
                "required": ["executionTime"],
                "properties": {
                    "executionTime": {"type": "number", "description": "Milliseconds spent calculating."},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "engine": {"type": "string"},
                },
            },
        },
    }


def _batch_output_schema(service: ServiceDef | None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["service", "scenarios", "metadata"],
        "properties": {
            "service": _SERVICE_BLOCK_SCHEMA,
            "scenarios": {
                "type": "array",
                "description": "One entry per scenario, in the order sent: its outputs, or an error.",
                "items": {
                    "type": "object",
                    "required": ["label"],
                    "properties": {
                        "label": {"type": "string"},
                        "inputs": _echo_schema(service),
                        "outputs": _outputs_schema(service),
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
            },
            "metadata": {
                "type": "object",
                "required": ["scenarioCount", "successCount", "executionTime"],
                "properties": {
                    "scenarioCount": {"type": "integer"},
                    "successCount": {"type": "integer"},
                    "executionTime": {"type": "number"},
                },
            },
        },
    }


_DETAILS_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["serviceId", "serviceName", "description", "inputs", "outputs", "exampleInputs"],
    "properties": {
        "serviceId": {"type": "string"},
        "serviceName": {"type": "string"},
        "description": {"type": "string"},
        "requiresToken": {"type": "boolean"},
        "inputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "title", "type", "required"],
                "properties": {
                    "name": {"type": "string"},
                    "title": {"type": "string"},
                    "type": {"enum": ["number", "integer", "string", "boolean"]},
                    "required": {"type": "boolean"},
                    "description": {"type": "string"},
                    "min": {"type": "number"},
                    "max": {"type": "number"},
                    "default": _SCALAR,
                    "allowedValues": {"type": "array"},
                    "format": {"type": "string"},
                },
            },
        },
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "title", "type"],
                "properties": {
                    "name": {"type": "string"},
                    "title": {"type": "string"},
                    "type": {"enum": ["cell", "range"]},
                    "formatString": {"type": "string"},
                    "description": {"type": "string"},
                },
            },
        },
        "exampleInputs": {"type": "object"},
        "instructions": {"type": "array", "items": {"type": "string"}},
    },
}

_LIST_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["services"],
    "properties": {
        "services": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name", "description", "inputs", "outputs"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "inputs": {"type": "array", "items": {"type": "string"}},
                    "outputs": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}


# -- describing a service to a model --------------------------------------------------------------


def _percentage(spec: InputDef) -> bool:
    return spec.type in ("number", "integer") and percentage_rule(spec)[0]


def _example_value(spec: InputDef) -> Any:
    if spec.default is not None:
        return spec.default
    if spec.allowed_values:
        return spec.allowed_values[0]
    if spec.type == "boolean":
        return False
    if spec.type in ("number", "integer"):
        if _percentage(spec):
            return 0.05
        low = spec.min if spec.min is not None else 0
        return int(low) if spec.type == "integer" or float(low).is_integer() else low
    return f"your_{spec.name}"


def example_inputs(service: ServiceDef) -> dict[str, Any]:
    """Inputs that compute: the first golden case when there is one, else one value per input."""
    for case in service.golden:
        if isinstance(case.get("inputs"), dict):
            return dict(case["inputs"])
    return {spec.name: _example_value(spec) for spec in service.inputs if spec.mandatory}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _rules(service: ServiceDef) -> list[str]:
    """The calling rules a model needs, one bullet each (percentages, enums, ranges, booleans)."""
    rules: list[str] = []
    required = [s.name for s in service.inputs if s.mandatory]
    optional = [
        f"{s.name}" + (f" (default {json.dumps(s.default, ensure_ascii=False)})" if s.default is not None else "")
        for s in service.inputs
        if not s.mandatory
    ]
    if required:
        rules.append("REQUIRED inputs: " + ", ".join(required) + ".")
    if optional:
        rules.append("OPTIONAL inputs: " + ", ".join(optional) + ".")
    for spec in service.inputs:
        if _percentage(spec):
            rules.append(
                f'PERCENTAGE: "{spec.name}" is a percentage. Send 0.05, 5 or the string "5%" for five percent '
                "(never 500)."
            )
    for spec in service.inputs:
        if spec.allowed_values:
            listed = ", ".join(json.dumps(v, ensure_ascii=False) for v in spec.allowed_values)
            rules.append(f'ALLOWED VALUES for "{spec.name}": {listed}. Use one of them exactly.')
    for spec in service.inputs:
        if spec.type not in ("number", "integer") or (spec.min is None and spec.max is None):
            continue
        if _percentage(spec):
            low = f"{_number(spec.min * 100)}%" if spec.min is not None else None
            high = f"{_number(spec.max * 100)}%" if spec.max is not None else None
        else:
            low = _number(spec.min) if spec.min is not None else None
            high = _number(spec.max) if spec.max is not None else None
        if low and high:
            bounds = f"{low} to {high}"
        else:
            bounds = f"at least {low}" if low else f"at most {high}"
        whole = " (a whole number)" if spec.type == "integer" else ""
        rules.append(f'VALUE RANGE for "{spec.name}": {bounds}{whole}.')
    for spec in service.inputs:
        if spec.type == "boolean":
            rules.append(f'BOOLEAN: "{spec.name}" takes true or false (yes/no and 1/0 are understood too).')
    return rules


def _outputs_line(service: ServiceDef) -> str:
    parts = []
    for out in service.outputs:
        text = f"{out.name} ({out.title})"
        if out.format_string:
            text += f" [{out.format_string}]"
        parts.append(text)
    return "OUTPUTS: " + "; ".join(parts)


def service_instructions(service: ServiceDef) -> str:
    """The single-service server's ``instructions``: what the service does and how to call it."""
    example = json.dumps({"inputs": example_inputs(service)}, ensure_ascii=False)
    lines = [
        f"{service.title} — {service.description}".rstrip(" —"),
        "This server runs one spreadsheet calculation. Tools: spreadapi_calc (one calculation), "
        f"spreadapi_batch (compare {BATCH_MIN} to {BATCH_MAX} scenarios in one call), "
        "spreadapi_get_details (parameters, rules and outputs).",
        "",
        "RULES:",
        f'• Put every input under "inputs", keyed by parameter name: spreadapi_calc({example}).',
        *(f"• {rule}" for rule in _rules(service)),
        "• FAST PATH: when the user gave every required input, call spreadapi_calc directly; "
        "spreadapi_get_details is only needed when something is unclear.",
        "• BATCH: to compare alternatives, send them together to spreadapi_batch instead of calling "
        "spreadapi_calc repeatedly.",
        "• ERRORS: a result with isError names the inputs to fix; fix them and call again.",
        "",
        _outputs_line(service),
    ]
    return "\n".join(lines)


def bridge_instructions(services: Sequence[ServiceDef]) -> str:
    """The multi-service server's ``instructions``: the services this credential reaches."""
    if not services:
        return "No calculation service is available with this token. Ask the user for a token that grants one."
    lines = [
        f"SpreadAPI calculation services ({len(services)} available with this token). Tools: "
        "spreadapi_list_services, spreadapi_get_service_details({serviceId}), "
        "spreadapi_calc({serviceId, inputs}), spreadapi_batch({serviceId, scenarios}).",
        "Call spreadapi_get_service_details before the first calculation with a service: it lists the "
        "inputs, their allowed values and ranges, and how percentages are written.",
        "",
        "SERVICES:",
    ]
    for service in services:
        required = ", ".join(s.name for s in service.inputs if s.mandatory) or "none"
        lines.append(f'• "{service.id}": {service.title} — {service.description} (required inputs: {required})')
    lines += [
        "",
        'Percentages: send 0.05, 5 or "5%" for five percent. A result with isError says what to fix.',
    ]
    return "\n".join(lines)


def service_details(service: ServiceDef) -> dict[str, Any]:
    """What ``spreadapi_get_details`` answers: inputs with their rules, outputs, an example."""
    inputs, outputs = describe_inputs(service), describe_outputs(service)
    return {
        "serviceId": service.id,
        "serviceName": service.title,
        "description": service.description,
        "requiresToken": not service.public,
        "inputs": inputs,
        "outputs": outputs,
        "exampleInputs": example_inputs(service),
        "instructions": _rules(service),
    }


# -- tool descriptions ---------------------------------------------------------------------------


def _inputs_property(service: ServiceDef) -> dict[str, Any]:
    schema = inputs_schema(service)
    required = schema.get("required", [])
    hint = f" Required: {', '.join(required)}." if required else ""
    return {
        **schema,
        "description": "Input values for the calculation, keyed by parameter name." + hint,
    }


def service_tools(service: ServiceDef) -> list[Tool]:
    """The tools of the single-service server for ``service``, typed from its definition."""
    example = json.dumps({"inputs": example_inputs(service)}, ensure_ascii=False)
    inputs = _inputs_property(service)
    calc = Tool(
        name="spreadapi_calc",
        title=f"Calculate: {service.title}",
        description=(
            f'Use this when the user wants one calculated result from "{service.title}" — {service.description} '
            f"Pass every input under inputs.\nEXAMPLE:\nspreadapi_calc({example})"
        ),
        input_schema={
            "type": "object",
            "properties": {"inputs": inputs},
            "required": ["inputs"],
            "additionalProperties": False,
        },
        output_schema=_calc_output_schema(service),
        annotations=READ_ONLY,
    )
    batch = Tool(
        name="spreadapi_batch",
        title=f"Compare scenarios: {service.title}",
        description=(
            f'Compare {BATCH_MIN} to {BATCH_MAX} scenarios of "{service.title}" in one call, each with a label '
            "and its own inputs; each scenario's outputs (or its error) come back in order."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "scenarios": {
                    "type": "array",
                    "description": f"{BATCH_MIN} to {BATCH_MAX} scenarios.",
                    "minItems": BATCH_MIN,
                    "maxItems": BATCH_MAX,
                    "items": {
                        "type": "object",
                        "properties": {
                            "label": {"type": "string", "description": "A name for the scenario."},
                            "inputs": inputs,
                        },
                        "required": ["inputs"],
                        "additionalProperties": False,
                    },
                }
            },
            "required": ["scenarios"],
            "additionalProperties": False,
        },
        output_schema=_batch_output_schema(service),
        annotations=READ_ONLY,
    )
    details = Tool(
        name="spreadapi_get_details",
        title=f"Parameters of {service.title}",
        description=(
            f'The inputs of "{service.title}" (types, required, ranges, allowed values, percentages), its '
            "outputs and an example. Only needed when the rules in the server instructions are not enough."
        ),
        input_schema={"type": "object", "properties": {}, "additionalProperties": False},
        output_schema=_DETAILS_OUTPUT_SCHEMA,
        annotations=READ_ONLY,
    )
    return [calc, batch, details]


def bridge_tools(services: Sequence[ServiceDef]) -> list[Tool]:
    """The bridge's tools; ``serviceId`` is an enum of the services this credential reaches."""
    service_id: dict[str, Any] = {
        "type": "string",
        "description": "The id of a service, as spreadapi_list_services returns it.",
        "enum": [s.id for s in services],
    }
    generic_inputs = {
        "type": "object",
        "description": "Input values keyed by parameter name (spreadapi_get_service_details lists them).",
    }
    return [
        Tool(
            name="spreadapi_list_services",
            title="List calculation services",
            description="The calculation services available with this token: id, name, description, inputs, outputs.",
            input_schema={"type": "object", "properties": {}, "additionalProperties": False},
            output_schema=_LIST_OUTPUT_SCHEMA,
            annotations=READ_ONLY,
        ),
        Tool(
            name="spreadapi_get_service_details",
            title="Parameters of a service",
            description="The inputs of one service (types, required, ranges, allowed values, percentages), "
            "its outputs and an example.",
            input_schema={
                "type": "object",
                "properties": {"serviceId": service_id},
                "required": ["serviceId"],
                "additionalProperties": False,
            },
            output_schema=_DETAILS_OUTPUT_SCHEMA,
            annotations=READ_ONLY,
        ),
        Tool(
            name="spreadapi_calc",
            title="Calculate",
            description="Run one calculation of a service: pass its serviceId and every input under inputs.",
            input_schema={
                "type": "object",
                "properties": {"serviceId": service_id, "inputs": generic_inputs},
                "required": ["serviceId", "inputs"],
                "additionalProperties": False,
            },
            output_schema=_calc_output_schema(None),
            annotations=READ_ONLY,
        ),
        Tool(
            name="spreadapi_batch",
            title="Compare scenarios",
            description=f"Compare {BATCH_MIN} to {BATCH_MAX} scenarios of one service in one call.",
            input_schema={
                "type": "object",
                "properties": {
                    "serviceId": service_id,
                    "scenarios": {
                        "type": "array",
                        "minItems": BATCH_MIN,
                        "maxItems": BATCH_MAX,
                        "items": {
                            "type": "object",
                            "properties": {"label": {"type": "string"}, "inputs": generic_inputs},
                            "required": ["inputs"],
                            "additionalProperties": False,
                        },
                    },
                },
                "required": ["serviceId", "scenarios"],
                "additionalProperties": False,
            },
            output_schema=_batch_output_schema(None),
            annotations=READ_ONLY,
        ),
    ]


# -- running a tool ------------------------------------------------------------------------------


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
    resolved = resolve(service, inputs)
    started = time.perf_counter()
    values = await catalog.evaluate(service.id, resolved.cells)
    elapsed = (time.perf_counter() - started) * 1000
    outputs = []
    for spec in service.outputs:
        item = {"name": spec.name, "title": spec.title, "value": values[spec.name]}
        if spec.format_string:
            item["formatString"] = spec.format_string
        outputs.append(item)
    return {
        "service": _service_block(service),
        "inputs": resolved.echo,
        "outputs": outputs,
        "metadata": {
            "executionTime": round(elapsed, 3),
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "engine": catalog.engine_name,
        },
    }


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
    if problem := _inputs_problem(inputs, service, "spreadapi_calc"):
        return _fail(problem)
    try:
        return _ok(await calculate(catalog, service, inputs))
    except InputError as exc:
        return _fail(input_error_text(exc))


async def _batch(catalog: Catalog, service: ServiceDef, arguments: Mapping[str, Any]) -> CallToolResult:
    scenarios = arguments.get("scenarios")
    if not isinstance(scenarios, list) or not BATCH_MIN <= len(scenarios) <= BATCH_MAX:
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
            results.append({"label": label, "error": exc.error, "message": input_error_text(exc)})
            continue
        results.append({"label": label, "inputs": body["inputs"], "outputs": body["outputs"]})
    structured = {
        "service": _service_block(service),
        "scenarios": results,
        "metadata": {
            "scenarioCount": len(results),
            "successCount": sum("error" not in r for r in results),
            "executionTime": round((time.perf_counter() - started) * 1000, 3),
        },
    }
    return _ok(structured)


def _unknown_tool(name: str, known: Iterable[str]) -> MCPError:
    return MCPError(INVALID_PARAMS, f"Unknown tool: {name}", {"availableTools": list(known)})


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
        return _ok(service_details(service))
    raise _unknown_tool(name, SERVICE_TOOL_NAMES)


def _listing(services: Sequence[ServiceDef]) -> dict[str, Any]:
    return {
        "services": [
            {
                **_service_block(s),
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
        raise _unknown_tool(name, BRIDGE_TOOL_NAMES)
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
