"""Expected results on any target: the same fixture workbook evaluated locally with our engine."""

from __future__ import annotations

import functools
import math
from typing import Any

from .engine import OutputValue, get_engine
from .fixtures import load_services

REL_TOLERANCE = 1e-9


@functools.cache
def _evaluator(fixture_id: str, engine: str):
    return get_engine(engine).compile(load_services()[fixture_id])


def expected_outputs(fixture_id: str, cells: dict[str, Any], engine: str = "formulas") -> dict[str, OutputValue]:
    """Outputs by name for these cell values (as written, after coercion and defaults)."""
    return _evaluator(fixture_id, engine).evaluate(cells)


def same_value(actual: Any, expected: Any, rel: float = REL_TOLERANCE) -> bool:
    """Equal as a spreadsheet user would judge: numbers within a relative tolerance, ranges cell by cell."""
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same_value(a, e, rel) for a, e in zip(actual, expected, strict=True))
        )
    numeric = (int, float)
    if isinstance(expected, numeric) and not isinstance(expected, bool):
        if not isinstance(actual, numeric) or isinstance(actual, bool):
            return False
        return math.isclose(actual, expected, rel_tol=rel, abs_tol=1e-12)
    return actual == expected and type(actual) is type(expected)


def differences(actual: dict[str, Any], expected: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{output: (actual, expected)} for every output that differs or is missing."""
    return {
        name: (actual.get(name, "<missing>"), value)
        for name, value in expected.items()
        if name not in actual or not same_value(actual[name], value)
    }
