"""Validation and coercion of service inputs (behaviour reference, section 1.11).

Where SpreadAPI's pipeline contradicts itself we keep the documented behaviour clients rely on and
take the consistent reading (see README, "Deliberate deviations"):
- a key that matches an input by title or without separators is written, not only validated (Q6);
- an enum value is written in its declared spelling, so "GIZMO" computes like "gizmo";
- a value given with an explicit "%" is not divided by 100 a second time;
- ``integer`` inputs must be whole numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..engine import CellValue
from ..fixtures import InputDef, ServiceDef
from .faults import active

CLEAR_CELL = "__SPREADAPI_NULL__"
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "wahr", "ja", "j", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "falsch", "nein", "0"})
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_PERCENT = re.compile(r"-?[\d.]+%")
_SEPARATORS = re.compile(r"[\s_-]+")


class InputError(Exception):
    """A 400 whose body is ``{"error", "message", "details"}``."""

    def __init__(self, error: str, message: str, details: dict[str, Any]):
        super().__init__(message)
        self.error, self.message, self.details = error, message, details


@dataclass
class ResolvedInputs:
    cells: dict[str, CellValue] = field(default_factory=dict)  # by input name: what the engine writes
    echo: list[dict[str, Any]] = field(default_factory=list)  # {name, title, value}, as the response shows


def _squash(text: str) -> str:
    return _SEPARATORS.sub("", text.lower())


def _match(spec: InputDef, key: str) -> bool:
    return key in (spec.name.lower(), spec.address.lower(), spec.title.lower()) or _squash(key) in (
        _squash(spec.name),
        _squash(spec.title),
    )


def js_number(value: Any) -> float:
    """JavaScript ``Number()`` for the value shapes JSON and query strings carry; NaN when not a number."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # a JSON integer longer than any double
            return math.inf if value > 0 else -math.inf
    if not isinstance(value, str):
        return math.nan
    text = value.strip()
    if text == "":
        return 0.0
    if _DECIMAL.fullmatch(text):
        return float(text)
    if re.fullmatch(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+", text):
        return float(int(text, 0))
    return {"Infinity": math.inf, "+Infinity": math.inf, "-Infinity": -math.inf}.get(text, math.nan)


def js_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "null" if value is None else str(value)


def _plain(number: float) -> float | int:
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def percentage_rule(spec: InputDef) -> tuple[bool, float]:
    decimal_bounds = spec.min is not None and spec.max is not None and spec.min >= 0 and spec.max <= 1
    applies = spec.format == "percentage" or "%" in (spec.format_string or "") or decimal_bounds
    return applies, (spec.max if decimal_bounds else 1)


def _fail(spec: InputDef, error: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "parameter": spec.title,
        "error": error,
        "type": kind,
        **extra,
        "name": spec.name,
        "title": spec.title,
    }


def js_parse_float(text: str) -> float:
    """JavaScript ``parseFloat()``: the longest decimal prefix ("1.2.3" is 1.2), NaN when there is none."""
    found = re.match(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text)
    return float(found.group(0)) if found else math.nan


def _number(spec: InputDef, raw: Any, faults: frozenset[str] = frozenset()) -> tuple[Any, dict[str, Any] | None]:
    value = raw
    percent, threshold = percentage_rule(spec)
    explicit_percent = isinstance(raw, str) and _PERCENT.fullmatch(raw.strip())
    if percent and explicit_percent:
        # parseFloat where Number belongs reads "1.2.3%" as 1.2%; Number() makes it NaN, reported below
        read = js_parse_float if active(faults, "inputs-percent-parsefloat") else js_number
        value = read(raw.strip()[:-1]) / 100
    number = js_number(value)
    if math.isnan(number) or math.isinf(number):
        expected = "an integer" if spec.type == "integer" else "a number"
        return None, _fail(
            spec,
            f"Expected {expected}, got: {js_string(raw)}",
            "type_mismatch",
            expectedType=spec.type,
            receivedValue=raw,
        )
    if percent and not explicit_percent and abs(number) > threshold:
        number /= 100
    if spec.type == "integer" and not number.is_integer():
        return None, _fail(
            spec,
            f"Expected an integer, got: {js_string(raw)}",
            "type_mismatch",
            expectedType="integer",
            receivedValue=raw,
        )
    shown = js_string(_plain(number))
    if spec.min is not None and number < spec.min:
        return None, _fail(
            spec,
            f"Value {shown} is below minimum {js_string(spec.min)}",
            "below_minimum",
            min=spec.min,
            value=_plain(number),
        )
    if spec.max is not None and number > spec.max:
        return None, _fail(
            spec,
            f"Value {shown} is above maximum {js_string(spec.max)}",
            "above_maximum",
            max=spec.max,
            value=_plain(number),
        )
    allowed = [js_number(a) for a in spec.allowed_values]
    allowed = [a for a in allowed if not math.isnan(a)]
    if allowed and number not in allowed:
        listed = ", ".join(js_string(_plain(a)) for a in allowed)
        return None, _fail(
            spec,
            f"Value {shown} is not allowed. Allowed values: {listed}",
            "invalid_enum_value",
            allowedValues=list(spec.allowed_values),
            receivedValue=raw,
        )
    return _plain(number), None


def _boolean(spec: InputDef, raw: Any, faults: frozenset[str] = frozenset()) -> tuple[Any, dict[str, Any] | None]:
    if isinstance(raw, bool):
        return raw, None
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw), None
    word = raw.strip().lower() if isinstance(raw, str) else None
    if word in TRUE_WORDS:
        return True, None
    if word in FALSE_WORDS:
        return False, None
    if active(faults, "inputs-boolean-truthy"):
        return bool(raw), None  # whatever is not a false word is true, as JavaScript's Boolean() has it
    message = (
        f"Expected a boolean, got: {js_string(raw)}. Accepted values: true/false, yes/no, 1/0, wahr/falsch, ja/nein"
    )
    return None, _fail(spec, message, "type_mismatch", expectedType="boolean", receivedValue=raw)


def _string(spec: InputDef, raw: Any, faults: frozenset[str] = frozenset()) -> tuple[Any, dict[str, Any] | None]:
    if isinstance(raw, dict | list) and active(faults, "inputs-structured-text-500"):
        raise TypeError(f"cannot read a JSON {type(raw).__name__} as text")  # no branch for it: a 500
    if isinstance(raw, dict | list):
        return None, _fail(
            spec,
            "Expected a string, got a JSON " + ("object" if isinstance(raw, dict) else "array"),
            "type_mismatch",
            expectedType="string",
            receivedValue=raw,
        )
    text = js_string(raw)
    if active(faults, "inputs-text-ascii-only"):
        text = text.encode("ascii", "ignore").decode("ascii")  # a "sanitiser" for the cell write
    if not spec.allowed_values:
        return text, None
    wanted = text.strip() if spec.allowed_values_case_sensitive else text.strip().lower()
    for allowed in spec.allowed_values:
        candidate = str(allowed).strip()
        if wanted == (candidate if spec.allowed_values_case_sensitive else candidate.lower()):
            return allowed, None
    listed = ", ".join(str(a) for a in spec.allowed_values)
    return None, _fail(
        spec,
        f'Value "{text}" is not allowed. Allowed values: {listed}',
        "invalid_enum_value",
        allowedValues=list(spec.allowed_values),
        receivedValue=raw,
        caseSensitive=spec.allowed_values_case_sensitive,
    )


_COERCE = {"number": _number, "integer": _number, "boolean": _boolean, "string": _string}


def coerce(spec: InputDef, raw: Any, faults: frozenset[str] = frozenset()) -> tuple[Any, dict[str, Any] | None]:
    """(value to write, None) or (None, error object)."""
    if raw == CLEAR_CELL:
        return None, None
    return _COERCE[spec.type](spec, raw, faults)


def _missing(value: Any) -> bool:
    return value is None or value == ""


def resolve(service: ServiceDef, provided: Mapping[str, Any], faults: frozenset[str] = frozenset()) -> ResolvedInputs:
    """Validate and coerce ``provided`` against the service; raise InputError with SpreadAPI's bodies.
    ``faults``: the deployment bugs to reproduce (``faults.rest``), for the selftest."""
    exact_keys = active(faults, "inputs-keys-case-sensitive")
    lowered = {str(k) if exact_keys else str(k).lower(): v for k, v in provided.items()}
    matched: dict[str, tuple[str, Any]] = {}  # input name -> (key as sent, value)
    unknown: list[str] = []
    for key, value in lowered.items():
        if exact_keys:
            spec = next((s for s in service.inputs if key in (s.name, s.address)), None)
        else:
            spec = next((s for s in service.inputs if _match(s, key)), None)
        if spec is not None and spec.name not in matched:
            matched[spec.name] = (key, value)
        if spec is None:
            unknown.append(key)

    missing = [s for s in service.inputs if s.mandatory and _missing(matched.get(s.name, (None, None))[1])]
    if missing and active(faults, "inputs-missing-as-invalid"):
        # One error path for everything: a missing input is one more validation error.
        errors = [_fail(s, f"{s.title} is required", "required") for s in missing]
        raise InputError(
            "Parameter validation failed", f"{len(errors)} parameter(s) failed validation", {"errors": errors}
        )
    if missing:
        raise InputError(
            "Missing required parameters",
            "The following required parameters are missing: " + ", ".join(s.title for s in missing),
            {"required": [{"name": s.name, "title": s.title} for s in missing]},
        )

    resolved, errors = ResolvedInputs(), []
    if unknown and active(faults, "inputs-unknown-keys-refused"):
        errors += [{"parameter": key, "error": "Unknown parameter", "type": "unknown_parameter"} for key in unknown]
    for name, (_key, raw) in matched.items():
        spec = service.input(name)
        if raw == "" and active(faults, "inputs-blank-optional-written"):
            resolved.cells[name] = raw  # written as sent: the cell is emptied instead of taking its default
            resolved.echo.append({"name": name, "title": spec.title, "value": raw})
            continue
        if _missing(raw):  # an optional input sent empty counts as not sent
            continue
        value, error = coerce(spec, raw, faults)
        exact_enum = active(faults, "inputs-enum-case-sensitive") and spec.allowed_values
        if error is None and exact_enum and raw not in spec.allowed_values:
            value, error = None, _fail(spec, f"Value {raw!r} is not allowed", "invalid_enum_value")
        if error:
            errors.append(error)
            continue
        if active(faults, "inputs-percent-divided-twice") and isinstance(raw, str) and _PERCENT.fullmatch(raw.strip()):
            value = _plain(js_number(value) / 100)
        resolved.cells[name] = value
        echoed = raw if active(faults, "inputs-echo-as-sent") else value
        resolved.echo.append({"name": name, "title": spec.title, "value": echoed})
    if errors and active(faults, "inputs-first-error-only"):
        errors = errors[:1]
    if errors:
        raise InputError(
            "Parameter validation failed", f"{len(errors)} parameter(s) failed validation", {"errors": errors}
        )

    if active(faults, "workbook-state-leaks") or active(faults, "workbook-written-before-validation"):
        return resolved  # omitted inputs are not written: the reused workbook keeps the last call's values
    for spec in service.inputs:
        if spec.mandatory or spec.name in resolved.cells or spec.default is None:
            continue
        value, error = coerce(spec, spec.default)
        if error is None:  # SpreadAPI drops an invalid default silently; the published cell value stays
            resolved.cells[spec.name] = value
            if not active(faults, "inputs-defaults-not-echoed"):
                resolved.echo.append({"name": spec.name, "title": spec.title, "value": value})
    return resolved
