"""The `formualizer` engine (Rust): a loaded workbook whose input cells are rewritten per evaluation."""

from __future__ import annotations

from typing import Any

from ..fixtures import ServiceDef
from .base import CellValue, LockedEvaluator, OutputValue, normalise, shape

# formualizer reports formula errors as {"type": "Error", "kind": ...}; SpreadAPI shows Excel's literal.
_ERROR_LITERALS = {
    "Null": "#NULL!",
    "Div": "#DIV/0!",
    "Value": "#VALUE!",
    "Ref": "#REF!",
    "Name": "#NAME?",
    "Num": "#NUM!",
    "Na": "#N/A",
    "Spill": "#SPILL!",
    "Calc": "#CALC!",
}


def _unwrap(value: Any) -> CellValue:
    if isinstance(value, dict) and value.get("type") == "Error":
        return _ERROR_LITERALS.get(value.get("kind"), "#VALUE!")
    return normalise(value)


class FormualizerEngine:
    name = "formualizer"

    def compile(self, service: ServiceDef) -> LockedEvaluator:
        import formualizer

        workbook = formualizer.load_workbook(str(service.workbook))
        workbook.set_temporal_egress("serial")
        input_cells = [(s.cell.sheet, s.cell.min_row, s.cell.min_col) for s in service.inputs]
        outputs = [(spec.name, spec.cell) for spec in service.outputs]

        def run(values: list[CellValue]) -> dict[str, OutputValue]:
            for (sheet, row, col), value in zip(input_cells, values, strict=True):
                workbook.set_value(sheet, row, col, value)
            return {
                name: shape(
                    ref,
                    [_unwrap(workbook.evaluate_cell(ref.sheet, r, c)) for row in ref.cells() for (r, c) in row],
                )
                for name, ref in outputs
            }

        return LockedEvaluator(service, run)
