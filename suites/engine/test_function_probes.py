"""Single Excel functions through both engines, against values computed in plain Python.

The test builds its own workbook (openpyxl, in a temporary folder): one row per probe, its arguments in
columns A-C (the service's inputs) and the formula in column D (an output). Each engine compiles it
once and evaluates it with the arguments passed as inputs, the same path a request takes.

A disagreement in a third-party engine is a strict xfail for that engine only: reported on every run,
and a failure (XPASS) once the engine is fixed, so the mark is removed then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from spreadapi_conformance.engine import ENGINES, Evaluator, OutputValue, get_engine
from spreadapi_conformance.fixtures import InputDef, OutputDef, ServiceDef
from spreadapi_conformance.oracle import same_value

PRICES = (("widget", 12.5), ("gadget", 49.9), ("gizmo", 199))


def excel_round(value: float, digits: int) -> float:
    """Excel's ROUND: the value to 15 significant digits (what Excel shows), then half away from zero."""
    return float(Decimal(f"{value:.15g}").quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def pmt(rate: float, periods: int, present_value: float) -> float:
    growth = (1 + rate) ** periods
    return -present_value * rate * growth / (growth - 1)


@dataclass(frozen=True)
class Probe:
    id: str
    formula: str  # {A} {B} {C}: the argument cells of this probe's row
    args: tuple[Any, ...]
    expected: Any
    # engine -> why it gets this wrong (a strict xfail for that engine only)
    known: dict[str, str] = field(default_factory=dict)


FACT_OVERFLOW = (
    "formulas 1.3.4 computes FACT with numpy integers, which overflow for n > 20, and answers #VALUE!; "
    "Excel and formualizer give the double (FACT(21) = 51090942171709440000)"
)
ROUND_BINARY = (
    "formulas 1.3.4 ROUND rounds the binary x*10^d half-up (Decimal(x*100).quantize), so 1.005 "
    "(stored as 1.00499999999999989…) goes down; Excel rounds the 15-digit value 1.005 up, as formualizer"
)
NUMBER_TO_TEXT = (
    "number-to-text conversion (concatenation) uses the shortest round-trip repr (17 digits); Excel uses "
    "15 significant digits, so 0.1+0.2 joins as '0.3'"
)
UNICODE_CASE = "formualizer 0.13 changes the case of ASCII letters only; Excel converts every letter"

PROBES = [
    Probe("pmt", "=PMT({A}/12,{B},{C})", (0.05, 360, 250000), pmt(0.05 / 12, 360, 250000)),
    Probe("pmt-zero-rate", "=PMT({A},{B},{C})", (0, 12, 1200), -100),
    Probe("round-2.675", "=ROUND({A},2)", (2.675,), 2.68),
    Probe("round-minus-2.5", "=ROUND({A},0)", (-2.5,), -3),
    Probe("round-0.5", "=ROUND({A},0)", (0.5,), 1),
    Probe("round-tens", "=ROUND({A},-2)", (1250,), 1300),
    Probe("round-1.005", "=ROUND({A},2)", (1.005,), 1.01, {"formulas": ROUND_BINARY}),
    Probe("round-minus-1.005", "=ROUND({A},2)", (-1.005,), -1.01, {"formulas": ROUND_BINARY}),
    # As the loan schedule computes interest: balance * (rate/12), here 999.9 * 0.08333… = 83.32499999999999.
    Probe("round-product-tie", "=ROUND({A}*{B},2)", (999.9, 1 / 12), 83.33, {"formulas": ROUND_BINARY}),
    Probe("vlookup-exact", "=VLOOKUP({A},Prices!A1:B3,2,FALSE)", ("gadget",), 49.9),
    Probe("vlookup-case-insensitive", "=VLOOKUP({A},Prices!A1:B3,2,FALSE)", ("GIZMO",), 199),
    Probe("vlookup-missing", "=VLOOKUP({A},Prices!A1:B3,2,FALSE)", ("sprocket",), "#N/A"),
    Probe("if-true", '=IF({A}>0,"positive","not positive")', (3,), "positive"),
    Probe("if-false", '=IF({A}>0,"positive","not positive")', (-1,), "not positive"),
    Probe("sum-range", "=SUM({A}:{C})", (1.5, 2, 3), 6.5),
    Probe("sum-range-skips-text", "=SUM({A}:{C})", (1, "x", 3), 4),
    Probe("power", "=POWER({A},{B})", (2, 10), 1024),
    Probe("power-negative", "=POWER({A},{B})", (10, -2), 0.01),
    Probe("power-large", "=POWER({A},{B})", (10, 308), 1e308),
    Probe("concat-non-ascii", '={A}&", "&{B}&"! ✓ 你好"', ("Grüße", "Zoë"), "Grüße, Zoë! ✓ 你好"),
    Probe("concatenate-non-ascii", "=CONCATENATE({A},{B})", ("Ægir ", "€ 😀"), "Ægir € 😀"),
    Probe("len-non-ascii", "=LEN({A})", ("Zoë ✓ 你好",), len("Zoë ✓ 你好")),
    Probe("fact-20", "=FACT({A})", (20,), math.factorial(20)),
    Probe("fact-21", "=FACT({A})", (21,), math.factorial(21), {"formulas": FACT_OVERFLOW}),
    Probe("fact-170", "=FACT({A})", (170,), float(math.factorial(170)), {"formulas": FACT_OVERFLOW}),
    Probe("divide-by-zero", "={A}/{B}", (1, 0), "#DIV/0!"),
    Probe("sqrt-negative", "=SQRT({A})", (-1,), "#NUM!"),
    Probe("mod-negative", "=MOD({A},{B})", (-7, 3), 2),
    Probe("int-negative", "=INT({A})", (-2.5,), -3),
    Probe(
        "trim-inner-spaces",
        "=TRIM({A})",
        ("  a  b ",),
        "a b",
        {"formulas": "formulas 1.3.4 TRIM strips the ends but keeps runs of inner spaces ('a  b')"},
    ),
    Probe(
        "textjoin-ignore-empty",
        '=TEXTJOIN("-",TRUE,{A},{B},{C})',
        ("a", "", "b"),
        "a-b",
        {"formulas": "formulas 1.3.4 TEXTJOIN(…, TRUE, …) keeps empty strings ('a--b')"},
    ),
    Probe("upper-non-ascii", "=UPPER({A})", ("zoë ægir",), "ZOË ÆGIR", {"formualizer": UNICODE_CASE}),
    Probe("lower-non-ascii", "=LOWER({A})", ("ÄÖÜ",), "äöü", {"formualizer": UNICODE_CASE}),
    Probe(
        "number-to-text",
        '="x"&({A}+{B})',
        (0.1, 0.2),
        "x0.3",
        {"formulas": NUMBER_TO_TEXT, "formualizer": NUMBER_TO_TEXT},
    ),
    # An empty input cell (None): an optional input without default whose published cell is empty.
    # Failing on formulas is our bug, not the library's: FormulasEngine passes None to the compiled
    # function, which formulas takes for a value ('None'); it needs np.asarray([[schedula EMPTY]]).
    Probe("empty-cell-equals-empty-text", '={A}=""', (None,), True),
    Probe("empty-cell-as-zero", "={A}+1", (None,), 1),
]


def _row(index: int) -> int:
    return index + 1


def build_service(folder: Path) -> ServiceDef:
    wb = Workbook()
    sheet = wb.active
    sheet.title = "Probes"
    prices = wb.create_sheet("Prices")
    for row in PRICES:
        prices.append(row)
    inputs, outputs = [], []
    for index, probe in enumerate(PROBES):
        row = _row(index)
        cells = {col: f"{col}{row}" for col in "ABC"}
        for col, value in zip("ABC", probe.args, strict=False):
            sheet[f"{col}{row}"] = value
            inputs.append(
                InputDef(name=f"{probe.id}.{col}", title=probe.id, type="string", address=f"Probes!{col}{row}")
            )
        sheet[f"D{row}"] = probe.formula.format(**cells)
        outputs.append(OutputDef(name=probe.id, title=probe.id, address=f"Probes!D{row}"))
    path = folder / "probes.xlsx"
    wb.save(path)
    return ServiceDef(
        id="function-probes",
        title="Function probes",
        description="One Excel function per row",
        public=True,
        workbook=path,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
    )


def _arguments() -> dict[str, Any]:
    return {f"{p.id}.{col}": value for p in PROBES for col, value in zip("ABC", p.args, strict=False)}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> ServiceDef:
    return build_service(tmp_path_factory.mktemp("probes"))


@pytest.fixture(scope="module")
def results(service: ServiceDef) -> dict[str, dict[str, OutputValue]]:
    """Every probe's output, per engine: one compile and one evaluation each."""
    out = {}
    for engine in ENGINES:
        evaluator: Evaluator = get_engine(engine).compile(service)
        out[engine] = evaluator.evaluate(_arguments())
    return out


def _cases():
    for probe in PROBES:
        for engine in ENGINES:
            marks = [pytest.mark.xfail(strict=True, reason=probe.known[engine])] if engine in probe.known else []
            yield pytest.param(probe, engine, id=f"{probe.id}-{engine}", marks=marks)


@pytest.mark.parametrize(("probe", "engine"), list(_cases()))
def test_function_probe(probe: Probe, engine: str, results: dict[str, dict[str, OutputValue]]) -> None:
    actual = results[engine][probe.id]
    assert same_value(actual, probe.expected), (
        f"{engine}: {probe.formula.format(A='A', B='B', C='C')} with {probe.args!r} gave {actual!r}, "
        f"expected {probe.expected!r}"
    )
