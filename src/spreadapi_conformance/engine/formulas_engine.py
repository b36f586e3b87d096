"""The `formulas` engine: the workbook compiled once into a function of its input cells."""

from __future__ import annotations

import contextlib
import io
import logging
from typing import Any

from openpyxl import load_workbook

from ..fixtures import CellRef, ServiceDef
from .base import CellValue, LockedEvaluator, OutputValue, normalise, shape

logging.getLogger("formulas").setLevel(logging.WARNING)


def _key(book: str, sheet: str, row: int, col: int) -> str:
    from openpyxl.utils.cell import get_column_letter

    return f"'[{book}]{sheet.upper()}'!{get_column_letter(col)}{row}"


def _empty_cell():
    import numpy as np
    from schedula.utils.cst import EMPTY

    return np.asarray([[EMPTY]], dtype=object)


def _unwrap(value: Any) -> CellValue:
    from schedula.utils.cst import EMPTY

    if hasattr(value, "value"):  # a formulas Ranges: a 1x1 array for one cell
        value = value.value[0, 0]
    if value is EMPTY:
        return None
    return normalise(value)


class FormulasEngine:
    name = "formulas"

    def compile(self, service: ServiceDef) -> LockedEvaluator:
        import formulas

        # formulas prints tqdm progress bars on stderr while it loads; they are noise in a server log.
        with contextlib.redirect_stderr(io.StringIO()):
            model = formulas.ExcelModel().loads(str(service.workbook)).finish()
        book = service.workbook.name
        nodes = set(model.dsp.data_nodes)

        input_keys = [_key(book, s.cell.sheet, s.cell.min_row, s.cell.min_col) for s in service.inputs]
        used_inputs = [i for i, key in enumerate(input_keys) if key in nodes]

        output_cells: list[tuple[CellRef, list[str]]] = []
        for spec in service.outputs:
            ref = spec.cell
            keys = [_key(book, ref.sheet, r, c) for row in ref.cells() for (r, c) in row]
            output_cells.append((ref, keys))
        wanted = list(dict.fromkeys(k for _, keys in output_cells for k in keys if k in nodes))
        compiled_keys, function = self._compile(model, [input_keys[i] for i in used_inputs], wanted)
        constants = self._constants(service, model, output_cells, set(compiled_keys))
        names = [spec.name for spec in service.outputs]
        empty = _empty_cell()

        def run(values: list[CellValue]) -> dict[str, OutputValue]:
            # None must reach formulas as its empty-cell token: as a plain None it is text ("None").
            cells = [empty if values[i] is None else values[i] for i in used_inputs]
            results = function(*cells) if compiled_keys else ()
            by_key = dict(zip(compiled_keys, (_unwrap(r) for r in results), strict=True))
            by_key.update(constants)
            return {
                name: shape(ref, [by_key[k] for k in keys])
                for name, (ref, keys) in zip(names, output_cells, strict=True)
            }

        return LockedEvaluator(service, run)

    @staticmethod
    def _compile(model, inputs: list[str], outputs: list[str]):
        """Compile what the inputs can reach; a cell they cannot reach is a constant, not an error."""
        try:
            return outputs, model.compile(inputs=inputs, outputs=outputs)
        except ValueError:
            reachable = []
            for key in outputs:
                try:
                    model.compile(inputs=inputs, outputs=[key])
                except ValueError:
                    continue
                reachable.append(key)
            return reachable, (model.compile(inputs=inputs, outputs=reachable) if reachable else None)

    @staticmethod
    def _constants(service, model, output_cells, compiled: set[str]) -> dict[str, CellValue]:
        missing = {k for _, keys in output_cells for k in keys} - compiled
        if not missing:
            return {}
        solution = model.calculate()
        book = load_workbook(service.workbook, read_only=True)
        try:
            constants = {}
            for ref, keys in output_cells:
                flat = [(r, c) for row in ref.cells() for (r, c) in row]
                for key, (r, c) in zip(keys, flat, strict=True):
                    if key not in missing:
                        continue
                    if key in solution:
                        constants[key] = _unwrap(solution[key])
                    else:
                        constants[key] = normalise(book[ref.sheet].cell(r, c).value)
            return constants
        finally:
            book.close()
