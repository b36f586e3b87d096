"""Differential testing: for any valid inputs, both engines and the plain-Python model agree.

Inputs come from ``valid_inputs(service)``; the engines and the model both get ``cells_for(service,
inputs)``, what a conforming server writes into the cells (declared defaults filled in, an input without
default left to the workbook's published value). That the published values agree with the declared
defaults is checked on its own, in ``test_published_values_are_the_declared_defaults``.

Known disagreements are listed in ``KNOWN_ISSUES``. Inputs in a known issue's region are left out of
the property test (hypothesis counts them as events), and each issue has its own deterministic test
below that reports it on every run: a plain failure when the bug is ours (fixture model, engine
adapter), a strict xfail when it is a third-party engine's. When such a test starts passing (an
XPASS(strict) fails the run), remove the region from ``KNOWN_ISSUES`` with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import event, given, reject
from hypothesis import strategies as st

from spreadapi_conformance.engine.base import published_values
from spreadapi_conformance.oracle import differences, same_value
from spreadapi_conformance.strategies import cells_for, valid_inputs

from ._support import ENGINES, compiled, fixture_models, load_services, outputs_table

SERVICES = load_services()


# ---------------------------------------------------------------------------------------------------
# Known disagreements, as regions of the (coerced) input space


def _excel_round(value: float, digits: int) -> float:
    """ROUND on the value as Excel shows it: 15 significant digits, then half away from zero."""
    return float(Decimal(f"{value:.15g}").quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def _near_half_cent(value: float) -> bool:
    """True when ROUND(value, 2) is a tie up to the last few bits: the engines' rounding rules (binary
    product, shortest repr, 15 significant digits) can each go their own way there."""
    scaled = abs(value) * 100
    fraction = scaled - math.floor(scaled)
    return abs(fraction - 0.5) <= 1e-9 + 1e-14 * scaled


def _loan_periods(cells: dict[str, Any]) -> tuple[float, int]:
    per_year = 4 if str(cells.get("frequency", "monthly")).lower() == "quarterly" else 12
    return cells["rate"] / per_year, cells["years"] * per_year


def _loan_tiny_rate(cells: dict[str, Any]) -> bool:
    """Rates so small that (1+r)^n - 1 loses most of its digits (r*n below 1e-6, zero excluded)."""
    rate, periods = _loan_periods(cells)
    return 0 < rate * periods < 1e-6


def _loan_round_arguments(cells: dict[str, Any]) -> list[float]:
    """Every value the loan workbook passes to ROUND(…, 2), along the model's own path."""
    rate, periods = _loan_periods(cells)
    principal = cells["principal"]
    if rate == 0:
        raw = principal / periods
    else:
        growth = (1 + rate) ** periods
        raw = principal * rate * growth / (growth - 1)
    payment = _excel_round(raw, 2)
    total_paid = _excel_round(payment * periods, 2)
    arguments = [raw, payment * periods, total_paid - principal]
    balance = principal
    for _ in range(fixture_models().SCHEDULE_ROWS):
        interest = balance * rate
        arguments.append(interest)
        principal_part = payment - _excel_round(interest, 2)
        arguments.append(balance - principal_part)
        balance = _excel_round(balance - principal_part, 2)
    return arguments


def _loan_round_tie(cells: dict[str, Any]) -> bool:
    return not _loan_tiny_rate(cells) and any(_near_half_cent(x) for x in _loan_round_arguments(cells))


def _edge_ratio_overflows(cells: dict[str, Any]) -> bool:
    numerator, denominator = cells["numerator"], cells["denominator"]
    return denominator != 0 and not math.isfinite(numerator / denominator)


@dataclass(frozen=True)
class KnownIssue:
    id: str
    service: str
    applies: Callable[[dict[str, Any]], bool]
    summary: str


KNOWN_ISSUES = (
    KnownIssue(
        "tiny-rate-pmt",
        "loan-calculator",
        _loan_tiny_rate,
        "PMT for rate*periods < 1e-6: the model raises ZeroDivisionError where (1+r)^n rounds to 1; "
        "formulas evaluates the textbook formula (#NUM! there, cents off just above); formualizer is exact. "
        "See test_model_is_defined_for_tiny_rates and test_engines_agree_for_tiny_rates.",
    ),
    KnownIssue(
        "round-half-cent-tie",
        "loan-calculator",
        _loan_round_tie,
        "ROUND(x, 2) with x a tie to 15 significant digits: formulas rounds the binary x*100, the model "
        "rounds repr(x), formualizer (and Excel) the 15-digit value. See test_round_tie_in_schedule and "
        "test_model_rounds_the_15_digit_value.",
    ),
    KnownIssue(
        "ratio-overflow",
        "edge-cases",
        _edge_ratio_overflows,
        "numerator/denominator beyond the double range: both engines give #NUM! (as Excel), the model "
        "returns inf. See test_overflowing_ratio_is_num_error.",
    ),
)


def known_issue(service_id: str, cells: dict[str, Any]) -> KnownIssue | None:
    return next((k for k in KNOWN_ISSUES if k.service == service_id and k.applies(cells)), None)


# ---------------------------------------------------------------------------------------------------
# The property


def _compare(service_id: str, inputs: dict[str, Any]) -> str | None:
    """None when both engines and the model agree, else a report naming every differing output."""
    service = SERVICES[service_id]
    cells = cells_for(service, inputs)
    results = {engine: compiled(service_id, engine).evaluate(cells) for engine in ENGINES}
    try:
        results["model"] = fixture_models().expected(service_id, dict(cells))
        model_error = None
    except Exception as exc:
        model_error = f"the model raised {exc!r}"
    names = [spec.name for spec in service.outputs]
    a, b = ENGINES
    disagree = bool(differences(results[a], results[b]))
    if model_error is None:
        disagree = disagree or any(differences(results[e], results["model"]) for e in ENGINES)
    if not disagree and model_error is None:
        return None
    lines = [
        f"{service_id}: engines and the plain-Python model disagree",
        f"inputs: {inputs!r}",
        f"cells given to the model: {cells!r}",
    ]
    if model_error:
        lines.append(model_error)
    lines.append(outputs_table(results, names))
    return "\n".join(lines)


@pytest.mark.parametrize("service_id", list(SERVICES))
def test_published_values_are_the_declared_defaults(service_id: str) -> None:
    """An optional input the client omits keeps the workbook's value (SpreadAPI) or takes the declared
    default (``cells_for``): the fixtures must make the two the same."""
    service = SERVICES[service_id]
    published = published_values(service)
    wrong = {
        spec.name: (published[spec.name], spec.default)
        for spec in service.inputs
        if not spec.mandatory and spec.default is not None and not same_value(published[spec.name], spec.default)
    }
    assert not wrong, f"{service_id}: (published, declared default) differ for {wrong!r}"


@pytest.mark.parametrize("service_id", list(SERVICES))
@given(data=st.data())
def test_engines_and_model_agree(service_id: str, data: st.DataObject) -> None:
    service = SERVICES[service_id]
    inputs = data.draw(valid_inputs(service), label="inputs")
    issue = known_issue(service_id, cells_for(service, inputs))
    if issue is not None:
        event(f"left out: known issue {issue.id}")
        reject()
    report = _compare(service_id, inputs)
    assert report is None, report


# ---------------------------------------------------------------------------------------------------
# One deterministic test per known issue: reported on every run, and they say when it is fixed.

TINY_RATES = [
    pytest.param({"principal": 1000, "rate": 1e-12, "years": 2, "frequency": "monthly"}, id="rate-1e-12"),
    pytest.param(
        {"principal": 12000, "rate": 2.220446049250313e-16, "years": 1, "frequency": "monthly"}, id="rate-epsilon"
    ),
]


@pytest.mark.parametrize("cells", TINY_RATES)
def test_model_is_defined_for_tiny_rates(cells: dict[str, Any]) -> None:
    """Our bug (fixtures/models.py): ``pmt`` divides by (1+r)^n - 1, which is 0.0 for a rate this small,
    though every rate in [0, 1] is a valid input. The model must say what the service answers."""
    assert _loan_tiny_rate(cells)
    try:
        outputs = fixture_models().expected("loan-calculator", dict(cells))
    except ZeroDivisionError as exc:
        pytest.fail(f"models.loan_calculator({cells!r}) raised {exc!r}", pytrace=False)
    assert set(outputs) == {spec.name for spec in SERVICES["loan-calculator"].outputs}


@pytest.mark.xfail(
    strict=True,
    reason="formulas 1.3.4 evaluates PMT as rate*(1+r)^n/((1+r)^n-1): catastrophic cancellation for tiny "
    "rates (cents off at 1e-12, #NUM! once (1+r)^n == 1); formualizer 0.13 is exact (-> principal/periods). "
    "Excel is documented to use the textbook formula too (OpenFormula OFFICE-2219: Excel 97 gives #DIV/0!), "
    "so which answer is right is for the fixture's owner to pin down.",
)
@pytest.mark.parametrize("cells", TINY_RATES)
def test_engines_agree_for_tiny_rates(cells: dict[str, Any]) -> None:
    results = {engine: compiled("loan-calculator", engine).evaluate(cells) for engine in ENGINES}
    a, b = ENGINES
    assert not differences(results[a], results[b]), outputs_table(results, list(results[a]))


# Inputs found by the property test: ROUND(balance * rate / 12, 2) lands on a half cent.
ROUND_TIE = {"principal": 416433.4202742664, "rate": 1.0, "years": 3, "frequency": "monthly"}


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param(
            engine,
            marks=pytest.mark.xfail(
                strict=True,
                reason="formulas 1.3.4 ROUND rounds the binary product x*10^d half-up "
                "(Decimal(x*100).quantize), so 34531.075 (stored as 34531.074999…) goes down; Excel and "
                "formualizer round the 15-significant-digit value up. Same cause as ROUND(1.005,2) in "
                "test_function_probes.",
            ),
        )
        if engine == "formulas"
        else engine
        for engine in ENGINES
    ],
)
def test_round_tie_in_schedule(engine: str) -> None:
    assert _loan_round_tie(ROUND_TIE)
    actual = compiled("loan-calculator", engine).evaluate(ROUND_TIE)
    expected = fixture_models().expected("loan-calculator", dict(ROUND_TIE))
    diff = differences(actual, expected)
    assert not diff, outputs_table({engine: actual, "model": expected}, list(diff))


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (999.9 * (1.0 / 12), 83.33),  # schedule interest of a 1000 loan at 100% a year, period 2
        (9985630.86 * (1.0 / 12), 832135.91),  # the same for a 10,000,000 loan over 5 years, period 3
        (2.675, 2.68),
        (1.005, 1.01),
    ],
)
def test_model_rounds_the_15_digit_value(value: float, shown: float) -> None:
    """Our bug (fixtures/models.py): ``excel_round`` quantizes ``repr(value)`` (up to 17 significant
    digits), not "the decimal shown" its docstring promises: Excel shows 15 significant digits, so
    83.32499999999999 is shown, and rounded, as 83.325 -> 83.33 (formualizer agrees)."""
    assert f"{value:.15g}".endswith("5"), "not a tie at 15 significant digits"
    models = fixture_models()
    assert models.excel_round(value, 2) == shown, (
        f"excel_round({value!r}, 2) = {models.excel_round(value, 2)!r}, Excel shows {value:.15g} and rounds to {shown}"
    )


OVERFLOW = {"numerator": 1e12, "denominator": 2.2250738585072014e-308, "name": "Welt", "exponent": 10}


@pytest.mark.parametrize("source", [*ENGINES, "model"])
def test_overflowing_ratio_is_num_error(source: str) -> None:
    """Excel answers #NUM! for a result beyond the double range; the engines do (``normalise``), the
    model (our bug, fixtures/models.py ``edge_cases``) returns float('inf'), which JSON cannot carry."""
    assert _edge_ratio_overflows(OVERFLOW)
    if source == "model":
        ratio = fixture_models().expected("edge-cases", dict(OVERFLOW))["ratio"]
    else:
        ratio = compiled("edge-cases", source).evaluate(OVERFLOW)["ratio"]
    assert same_value(ratio, "#NUM!"), f"{source}: ratio of {OVERFLOW!r} is {ratio!r}, expected '#NUM!'"
