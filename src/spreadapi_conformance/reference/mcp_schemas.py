"""The MCP tool definitions: input and output schemas, annotations, and the tools each server lists.

``service_tools`` types a single service's tools from its definition (the inputs as
``openapi.inputs_schema`` types them, the output names as enums); ``bridge_tools`` are generic over
services, with a ``serviceId`` limited to the services the credential reaches. The output schemas
describe the ``structuredContent`` that ``mcp_tools`` returns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mcp.types import Tool, ToolAnnotations

from ..fixtures import ServiceDef
from .mcp_guidance import BATCH_MAX, BATCH_MIN, example_inputs
from .openapi import inputs_schema

__all__ = ["bridge_tools", "service_tools"]


# A calculation reads a spreadsheet and changes nothing: hosts need not ask before each call.
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

# One `type` per anyOf branch, not a `type` array: clients that map tool schemas onto a single-type
# dialect (Gemini's function declarations) reject or weaken a type array (Inspector --strict warns).
_SCALAR_BRANCHES = [{"type": "number"}, {"type": "string"}, {"type": "boolean"}, {"type": "null"}]
_SCALAR = {"anyOf": _SCALAR_BRANCHES}
_VALUE = {"anyOf": [*_SCALAR_BRANCHES, {"type": "array", "items": {"type": "array", "items": _SCALAR}}]}


# -- what a result looks like ------------------------------------------------------------------------


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
