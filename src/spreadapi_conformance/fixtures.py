"""The fixture services: definitions, workbooks and golden cases from ``fixtures/``.

Shared by the reference implementation (which publishes them) and the suite (whose oracle evaluates
the same workbooks locally), so both sides read one source of truth.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, range_boundaries

from .bundled import bundled_dir

INPUT_TYPES = ("number", "integer", "string", "boolean")


def fixtures_dir() -> Path:
    """``$SPREADAPI_FIXTURES``, else the copy inside an installed wheel, else the repository's folder."""
    return bundled_dir("fixtures", "SPREADAPI_FIXTURES")


@dataclass(frozen=True)
class CellRef:
    """A cell or rectangular range on one sheet, 1-based rows and columns."""

    sheet: str
    min_row: int
    min_col: int
    max_row: int
    max_col: int

    @classmethod
    def parse(cls, address: str) -> CellRef:
        sheet, sep, coords = address.rpartition("!")
        if not sep or not sheet:
            raise ValueError(f"address {address!r} must name a sheet, as in Sheet!A1")
        sheet = sheet[1:-1].replace("''", "'") if sheet.startswith("'") and sheet.endswith("'") else sheet
        coords = coords.replace("$", "")
        if ":" in coords:
            min_col, min_row, max_col, max_row = range_boundaries(coords)
        else:
            letters, row = coordinate_from_string(coords)
            min_col = max_col = column_index_from_string(letters)
            min_row = max_row = row
        return cls(sheet, min_row, min_col, max_row, max_col)

    @property
    def is_range(self) -> bool:
        return (self.min_row, self.min_col) != (self.max_row, self.max_col)

    def cells(self) -> list[list[tuple[int, int]]]:
        """(row, col) pairs, row by row."""
        return [
            [(row, col) for col in range(self.min_col, self.max_col + 1)]
            for row in range(self.min_row, self.max_row + 1)
        ]


class _Addressed:
    address: str

    @functools.cached_property
    def cell(self) -> CellRef:
        """The parsed address (cached: a frozen dataclass still has an instance dict)."""
        return CellRef.parse(self.address)


@dataclass(frozen=True)
class InputDef(_Addressed):
    name: str
    title: str
    type: str
    address: str
    mandatory: bool = True
    min: float | None = None
    max: float | None = None
    allowed_values: tuple[Any, ...] = ()
    allowed_values_case_sensitive: bool = False
    default: Any = None
    format: str | None = None
    format_string: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class OutputDef(_Addressed):
    name: str
    title: str
    address: str
    format_string: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class ServiceDef:
    id: str
    title: str
    description: str
    public: bool
    workbook: Path
    inputs: tuple[InputDef, ...]
    outputs: tuple[OutputDef, ...]
    golden: tuple[dict[str, Any], ...] = field(default=(), compare=False, repr=False)

    def input(self, name: str) -> InputDef | None:
        return next((i for i in self.inputs if i.name == name), None)


def _input(raw: dict[str, Any]) -> InputDef:
    kind = raw.get("type", "string")
    if kind not in INPUT_TYPES:
        raise ValueError(f"input {raw.get('name')!r}: type {kind!r} is not one of {INPUT_TYPES}")
    return InputDef(
        name=raw["name"],
        title=raw.get("title") or raw["name"],
        type=kind,
        address=raw["address"],
        mandatory=raw.get("mandatory", True) is not False,
        min=raw.get("min"),
        max=raw.get("max"),
        allowed_values=tuple(raw.get("allowedValues") or ()),
        allowed_values_case_sensitive=bool(raw.get("allowedValuesCaseSensitive", False)),
        default=raw.get("default"),
        format=raw.get("format"),
        format_string=raw.get("formatString"),
        description=raw.get("description"),
    )


def _output(raw: dict[str, Any]) -> OutputDef:
    return OutputDef(
        name=raw["name"],
        title=raw.get("title") or raw["name"],
        address=raw["address"],
        format_string=raw.get("formatString"),
        description=raw.get("description"),
    )


def load_service(path: Path) -> ServiceDef:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    root = path.parent.parent
    golden_path = root / "golden" / f"{raw['id']}.yaml"
    golden = yaml.safe_load(golden_path.read_text(encoding="utf-8"))["cases"] if golden_path.exists() else []
    return ServiceDef(
        id=raw["id"],
        title=raw["title"],
        description=raw.get("description", ""),
        public=bool(raw.get("public", True)),
        workbook=root / "workbooks" / raw["workbook"],
        inputs=tuple(_input(i) for i in raw["inputs"]),
        outputs=tuple(_output(o) for o in raw["outputs"]),
        golden=tuple(golden),
    )


@functools.cache
def load_services(root: Path | None = None) -> dict[str, ServiceDef]:
    """Every service under ``root/services``, keyed by id, in file-name order."""
    root = root or fixtures_dir()
    services = [load_service(p) for p in sorted((root / "services").glob("*.yaml"))]
    return {s.id: s for s in services}
