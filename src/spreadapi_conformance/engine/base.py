"""The engine interface and the value normalisation every engine shares."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from openpyxl import load_workbook

from ..fixtures import CellRef, ServiceDef

CellValue = float | int | str | bool | None
OutputValue = CellValue | list[list[CellValue]]

# Excel's error literals, the strings SpreadAPI serialises formula errors as.
EXCEL_ERRORS = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#SPILL!", "#CALC!")
_LARGEST_EXACT_INT = 2**53


class Evaluator(Protocol):
    def evaluate(self, values: Mapping[str, CellValue]) -> dict[str, OutputValue]:
        """Outputs by name for these input values (by input name; missing ones get the published value)."""
        ...


class Engine(Protocol):
    name: str

    def compile(self, service: ServiceDef) -> Evaluator: ...


def normalise(value: Any) -> CellValue:
    """One JSON-ready scalar whatever the engine returned: numpy types unwrapped, integral floats as
    ints (Excel has only doubles, so 360.0 and 360 are the same cell), non-finite numbers as #NUM!."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        # Engines hand back formula errors as str subclasses with their own equality; keep the literal.
        return value if type(value) is str else str(value)
    if hasattr(value, "item") and not isinstance(value, int | float):  # numpy scalar
        value = value.item()
        if isinstance(value, bool):
            return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return "#NUM!"
        if float(value).is_integer() and abs(value) < _LARGEST_EXACT_INT:
            return int(value)
        return float(value)
    return str(value)


def published_values(service: ServiceDef) -> dict[str, CellValue]:
    """The input cells' values as published in the workbook: what an omitted optional input keeps."""
    book = load_workbook(service.workbook, data_only=False, read_only=True)
    try:
        values = {}
        for spec in service.inputs:
            ref = spec.cell
            values[spec.name] = normalise(book[ref.sheet].cell(ref.min_row, ref.min_col).value)
        return values
    finally:
        book.close()


def shape(ref: CellRef, flat: list[CellValue]) -> OutputValue:
    """A single value for a cell, a rows x cols list for a range."""
    if not ref.is_range:
        return flat[0]
    width = ref.max_col - ref.min_col + 1
    return [flat[i : i + width] for i in range(0, len(flat), width)]


class LockedEvaluator:
    """Serialises evaluations of one compiled service: neither engine's compiled state is safe to
    share between threads, and a half-written input vector is exactly the leak we must not have."""

    def __init__(self, service: ServiceDef, run):
        self._defaults = published_values(service)
        self._names = [spec.name for spec in service.inputs]
        self._run = run
        self._lock = threading.Lock()

    def evaluate(self, values: Mapping[str, CellValue]) -> dict[str, OutputValue]:
        unknown = set(values) - set(self._names)
        if unknown:
            raise KeyError(f"not inputs of this service: {sorted(unknown)}")
        full = [values[name] if name in values else self._defaults[name] for name in self._names]
        with self._lock:
            return self._run(full)
