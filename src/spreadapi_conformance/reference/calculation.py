"""One calculation as every front end reports it: REST execute, and the MCP calc and batch tools."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from ..fixtures import ServiceDef
from .catalog import Catalog
from .inputs import ResolvedInputs


def service_block(service: ServiceDef) -> dict[str, Any]:
    return {"id": service.id, "name": service.title, "description": service.description}


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def calculate(catalog: Catalog, service: ServiceDef, resolved: ResolvedInputs) -> dict[str, Any]:
    """The execute body (behaviour reference 2.1) for inputs already validated and coerced."""
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
        "service": service_block(service),
        "inputs": resolved.echo,
        "outputs": outputs,
        "metadata": {"executionTime": round(elapsed, 3), "timestamp": timestamp(), "engine": catalog.engine_name},
    }
