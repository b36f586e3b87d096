"""Hypothesis strategies for a service's inputs, derived from its definition alone, and :func:`drawn`, the
fuzzers' way of drawing many examples of a strategy at once."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from .fixtures import InputDef, ServiceDef

# Keeps generated magnitudes where a spreadsheet's doubles behave; unbounded inputs get this range.
_UNBOUNDED = 1e12


def is_percentage(spec: InputDef) -> bool:
    decimal = spec.min is not None and spec.max is not None and spec.min >= 0 and spec.max <= 1
    return spec.format == "percentage" or "%" in (spec.format_string or "") or decimal


def valid_value(spec: InputDef) -> st.SearchStrategy[Any]:
    """Values in their canonical form: what the server writes into the cell unchanged."""
    if spec.allowed_values:
        return st.sampled_from(spec.allowed_values)
    if spec.type == "boolean":
        return st.booleans()
    if spec.type == "integer":
        low = int(spec.min) if spec.min is not None else -int(_UNBOUNDED)
        high = int(spec.max) if spec.max is not None else int(_UNBOUNDED)
        return st.integers(low, high)
    if spec.type == "number":
        low = spec.min if spec.min is not None else -_UNBOUNDED
        high = spec.max if spec.max is not None else _UNBOUNDED
        if is_percentage(spec):
            # A fraction above the threshold would be divided by 100 again; stay at or below it.
            high = min(high, 1.0)
        return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    return st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40).map(str.strip)


@st.composite
def valid_inputs(draw, service: ServiceDef) -> dict[str, Any]:
    """Every mandatory input, and each optional one or not; values canonical."""
    inputs = {}
    for spec in service.inputs:
        if spec.mandatory or draw(st.booleans()):
            inputs[spec.name] = draw(valid_value(spec))
    return inputs


def cells_for(service: ServiceDef, inputs: dict[str, Any]) -> dict[str, Any]:
    """What a conforming server writes: the canonical inputs, plus the defaults of omitted optional ones."""
    # An empty or null value counts as not sent (behaviour reference 1.11), so its default applies.
    cells = {name: value for name, value in inputs.items() if value not in ("", None)}
    for spec in service.inputs:
        if spec.name not in cells and not spec.mandatory and spec.default is not None:
            cells[spec.name] = spec.default
    return cells


@st.composite
def invalid_inputs(draw, service: ServiceDef) -> tuple[dict[str, Any], str, str]:
    """Valid inputs with exactly one fault: (inputs, the broken input's name, the expected error type).

    The error type is ``missing`` for a dropped mandatory input (SpreadAPI answers "Missing required
    parameters") and otherwise one of type_mismatch, below_minimum, above_maximum, invalid_enum_value.
    """
    inputs = draw(valid_inputs(service))
    faults: list[tuple[InputDef, str]] = []
    for spec in service.inputs:
        if spec.mandatory:
            faults.append((spec, "missing"))
        if spec.type in ("number", "integer", "boolean"):
            faults.append((spec, "type_mismatch"))
        if spec.type in ("number", "integer") and spec.min is not None:
            faults.append((spec, "below_minimum"))
        if spec.type in ("number", "integer") and spec.max is not None and not is_percentage(spec):
            faults.append((spec, "above_maximum"))
        if spec.type == "string" and spec.allowed_values:
            faults.append((spec, "invalid_enum_value"))
    spec, kind = draw(st.sampled_from(faults))
    if kind == "missing":
        inputs.pop(spec.name, None)
    elif kind == "type_mismatch":
        inputs[spec.name] = draw(st.sampled_from(["abc", "not a number", "1,5x", "maybe"]))
    elif kind == "below_minimum":
        inputs[spec.name] = draw(st.integers(int(spec.min) - 10**6, int(spec.min) - 1))
    elif kind == "above_maximum":
        inputs[spec.name] = draw(st.integers(int(spec.max) + 1, int(spec.max) + 10**6))
    else:
        allowed = {str(a).lower() for a in spec.allowed_values}
        inputs[spec.name] = draw(
            st.text(st.characters(categories=("L",)), min_size=1, max_size=12).filter(
                lambda s: s.strip().lower() not in allowed
            )
        )
    return inputs, spec.name, kind


def random_value(spec: InputDef, rng: random.Random, text: Callable[[random.Random], str] | None = None) -> Any:
    """A valid canonical value from a seeded ``random.Random``: reproducible inputs for benchmarks and
    engine tests, where hypothesis' search is not wanted. Percentages stay realistic (0.1 % to 25 %),
    away from the tiny-rate region where engines legitimately differ."""
    if spec.allowed_values:
        return rng.choice(spec.allowed_values)
    if spec.type == "boolean":
        return rng.random() < 0.5
    if spec.type == "integer":
        low = int(spec.min) if spec.min is not None else -1_000_000
        high = int(spec.max) if spec.max is not None else 1_000_000
        return rng.randint(low, high)
    if spec.type == "number":
        low = spec.min if spec.min is not None else -1e6
        high = spec.max if spec.max is not None else 1e6
        if spec.format == "percentage":
            low, high = max(low, 0.001), min(high, 0.25)
        return round(rng.uniform(low, high), 6)
    if text is not None:
        return text(rng)
    return rng.choice(["Welt", "Zoë", "Ægir ✓", "你好", "Grüße"]) + str(rng.randrange(1000))


def drawn(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """Up to ``count`` examples of ``strategy`` (fewer when it has fewer distinct ones). Derandomized: a
    strategy that draws only through hypothesis gives the same examples on every run, so a fuzzer's verdict
    can be reproduced. Drawn before anything is sent, so the requests go out one after another through one
    client (and the target's pace)."""
    found: list[Any] = []

    @given(strategy)
    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def keep(example: Any) -> None:
        found.append(example)

    keep()
    return found
