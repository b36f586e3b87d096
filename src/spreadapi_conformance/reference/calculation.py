"""One calculation as every front end reports it: REST execute, and the MCP calc and batch tools."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from ..engine.base import EXCEL_ERRORS
from ..fixtures import ServiceDef
from .catalog import Catalog
from .faults import active
from .inputs import ResolvedInputs


def service_block(service: ServiceDef) -> dict[str, Any]:
    return {"id": service.id, "name": service.title, "description": service.description}


def timestamp(faults: frozenset[str] = frozenset()) -> str | int:
    if active(faults, "calculation-timestamp-epoch"):
        return int(time.time() * 1000)  # JavaScript's Date.now(), not an ISO 8601 string
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _value(value: Any, faults: frozenset[str]) -> Any:
    """An output value as the answer carries it (fault sites of the serialisation)."""
    if isinstance(value, list):
        rows = [[_value(cell, faults) for cell in row] for row in value]
        if active(faults, "calculation-range-flattened"):
            return [cell for row in rows for cell in row]  # the cells in reading order, the rows lost
        return rows
    if value is None and active(faults, "calculation-blank-as-empty-text"):
        return ""  # an empty cell read as its displayed text
    if value in EXCEL_ERRORS and active(faults, "calculation-errors-as-null"):
        return None  # "not a usable value"
    big = isinstance(value, int | float) and not isinstance(value, bool) and abs(value) >= 2**53
    if big and active(faults, "calculation-big-numbers-as-text"):
        return repr(float(value))  # kept exact as text, as some JSON encoders do past 2**53
    return value


async def calculate(catalog: Catalog, service: ServiceDef, resolved: ResolvedInputs) -> dict[str, Any]:
    """The execute body (behaviour reference 2.1) for inputs already validated and coerced."""
    faults = catalog.faults
    started = time.perf_counter()
    values = await catalog.evaluate(service.id, resolved.cells)
    elapsed = (time.perf_counter() - started) * 1000
    outputs = []
    for spec in service.outputs:
        item = {"name": spec.name, "title": spec.title, "value": _value(values[spec.name], faults)}
        if spec.format_string and not active(faults, "calculation-format-string-dropped"):
            item["formatString"] = spec.format_string
        outputs.append(item)
    echo = resolved.echo
    if active(faults, "inputs-echo-without-title"):
        echo = [{"name": item["name"], "value": item["value"]} for item in echo]
    return {
        "service": service_block(service),
        "inputs": echo,
        "outputs": outputs,
        "metadata": {
            "executionTime": round(elapsed, 3),
            "timestamp": timestamp(faults),
            "engine": catalog.engine_name,
        },
    }


def result_cache_key(service_id: str, inputs: Any) -> str:
    """SpreadAPI's result-cache key (1.12): the service and a hash of the inputs as supplied, keys sorted."""
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{service_id}:{digest}"


def result_cache(catalog: Catalog, surface: str) -> dict[str, Any]:
    """The result cache a fault keeps beside the compiled workbooks, one per surface ("rest", "mcp"): the
    reference itself computes afresh (faults rest-result-cache-before-auth, mcp-tool-results-cached-before-auth)."""
    caches: dict[str, dict[str, Any]] = catalog.__dict__.setdefault("result_caches", {})
    return caches.setdefault(surface, {})
