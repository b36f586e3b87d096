"""Shared by the engine tests: the plain-Python models, compiled evaluators, deterministic inputs.

These tests check this project's own parts (the engines behind the reference and the oracle, the
fixture models and files); none of them is marked ``conformance``.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import random
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from spreadapi_conformance.engine import ENGINES, Evaluator, get_engine
from spreadapi_conformance.fixtures import InputDef, ServiceDef, fixtures_dir, load_services
from spreadapi_conformance.oracle import same_value
from spreadapi_conformance.strategies import random_value

__all__ = [
    "ENGINES",
    "build_script",
    "compiled",
    "distinct_inputs",
    "fixture_models",
    "fresh",
    "load_services",
    "other_than",
    "outputs_table",
]


@functools.cache
def fixture_models() -> ModuleType:
    """``fixtures/models.py`` (a sibling file, not a package), loaded from the same fixture folder as
    the workbooks and golden files under test."""
    path = fixtures_dir() / "models.py"
    name = "spreadapi_fixture_models"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def build_script() -> Path:
    return fixtures_dir() / "build_workbooks.py"


@functools.cache
def compiled(service_id: str, engine: str) -> Evaluator:
    """One compile per service and engine for the whole session (formulas takes ~0.1-1 s a workbook)."""
    return get_engine(engine).compile(load_services()[service_id])


def fresh(service_id: str, engine: str) -> Evaluator:
    """A newly compiled evaluator that has never evaluated anything."""
    return get_engine(engine).compile(load_services()[service_id])


def outputs_table(rows: Mapping[str, Mapping[str, Any]], names: list[str]) -> str:
    """``name: a=..., b=...`` lines for the outputs that differ between any two of the sources."""
    lines = []
    for name in names:
        values = {source: result.get(name, "<missing>") for source, result in rows.items()}
        first = next(iter(values.values()))
        if all(same_value(v, first) for v in values.values()):
            continue
        lines.append(f"  {name}: " + ", ".join(f"{source}={v!r}" for source, v in values.items()))
    return "\n".join(lines)


def distinct_inputs(service: ServiceDef, count: int, seed: int = 0, optional: str = "random") -> list[dict[str, Any]]:
    """``count`` valid input sets, pairwise different, reproducible from ``seed``.

    ``optional``: "all" sets every optional input, "none" omits them all, "random" flips a coin.
    """
    rng = random.Random(f"{service.id}:{seed}")
    seen: set[str] = set()
    result: list[dict[str, Any]] = []
    attempts = 0
    while len(result) < count:
        attempts += 1
        assert attempts < count * 50, f"{service.id}: cannot draw {count} distinct input sets"
        inputs = {}
        for spec in service.inputs:
            if spec.mandatory or optional == "all" or (optional == "random" and rng.random() < 0.5):
                index = len(result)
                inputs[spec.name] = random_value(spec, rng, lambda r, n=index: f"Zoë-{n}-{r.randrange(10**6)} ✓")
        key = json.dumps(inputs, sort_keys=True)
        if key not in seen:
            seen.add(key)
            result.append(inputs)
    return result


def other_than(spec: InputDef, avoid: Any) -> Any:
    """A valid value of this input that differs from ``avoid`` (a leak of it would then be visible)."""
    if spec.allowed_values:
        return next(v for v in spec.allowed_values if str(v).lower() != str(avoid).lower())
    if spec.type == "boolean":
        return not bool(avoid)
    if spec.type in ("integer", "number"):
        low = spec.min if spec.min is not None else -1000
        high = spec.max if spec.max is not None else 1000
        candidate = low + (high - low) * 0.37
        candidate = int(candidate) if spec.type == "integer" else candidate
        if candidate == avoid:
            candidate = low if avoid != low else high
        return candidate
    return "Leak-Probe ✓ Ægir" if avoid != "Leak-Probe ✓ Ægir" else "Other"
