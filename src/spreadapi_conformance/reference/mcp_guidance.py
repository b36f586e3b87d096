"""What a model is told about a service: the servers' instructions, example inputs and ``spreadapi_get_details``.

Behaviour reference 3.1.6-3.1.7 (single service) and 3.2.4 (bridge). The single-service instructions
carry every calling rule (required and optional inputs, percentages, allowed values, ranges,
booleans) so that a model can call ``spreadapi_calc`` without asking for details first; the bridge's
list the services the credential reaches. ``service_details`` repeats the rules beside the inputs'
full description (``describe``), and ``example_inputs`` gives the example that instructions, tool
descriptions and error messages show.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..fixtures import InputDef, ServiceDef
from .describe import describe_inputs, describe_outputs
from .inputs import percentage_rule

__all__ = [
    "BATCH_MAX",
    "BATCH_MIN",
    "bridge_instructions",
    "example_inputs",
    "service_details",
    "service_instructions",
]

# How many scenarios spreadapi_batch takes. The bounds live here, with what the model is told, because
# the tool definitions (mcp_schemas) and the running tools (mcp_tools) both build on this module.
BATCH_MIN, BATCH_MAX = 2, 20


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


def service_details(service: ServiceDef, *, required_only: bool = False) -> dict[str, Any]:
    """What ``spreadapi_get_details`` answers: inputs with their rules, outputs, an example.

    ``required_only``: the fault ``mcp-details-required-only`` (the optional inputs left out)."""
    inputs, outputs = describe_inputs(service), describe_outputs(service)
    if required_only:
        inputs = [item for item in inputs if item.get("required")]
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
