"""A service's inputs and outputs as clients are shown them: REST details and MCP get_details alike."""

from __future__ import annotations

from typing import Any

from ..fixtures import ServiceDef
from .faults import active
from .inputs import percentage_rule


def describe_inputs(service: ServiceDef, faults: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """``faults``: the deployment bugs to reproduce (``faults.rest``), for the selftest."""
    # The definition's own word for it leaks out where the API promises `required`.
    required_key = "mandatory" if active(faults, "describe-inputs-mandatory-key") else "required"
    described = []
    for spec in service.inputs:
        item: dict[str, Any] = {"name": spec.name, "title": spec.title, "type": spec.type, required_key: spec.mandatory}
        percentage = spec.type in ("number", "integer") and percentage_rule(spec)[0]
        for key, value in (
            ("description", spec.description),
            ("min", spec.min),
            ("max", spec.max),
            ("default", spec.default),
            ("format", "percentage" if percentage else None),
        ):
            if value is not None:
                item[key] = value
        if spec.allowed_values:
            item["allowedValues"] = list(spec.allowed_values)
        described.append(item)
    return described


def describe_outputs(service: ServiceDef, faults: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    described = []
    for out in service.outputs:
        if out.cell.is_range and active(faults, "describe-skips-range-outputs"):
            continue  # only single cells were thought of as outputs
        item = {"name": out.name, "title": out.title, "type": "range" if out.cell.is_range else "cell"}
        if out.format_string:
            item["formatString"] = out.format_string
        if out.description:
            item["description"] = out.description
        described.append(item)
    return described
