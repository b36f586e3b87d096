"""REST-GET: execute by GET, its query parameters and its JSON, CSV and plain-text answers (behaviour 2.2)."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from spreadapi_conformance.oracle import differences, same_value

from ..premise import not_applicable
from ._support import (
    EDGE,
    LOAN,
    QUOTE,
    echo_of,
    error_json,
    excerpt,
    golden,
    golden_id,
    golden_params,
    json_body,
    ok_json,
    outputs_of,
    post,
    query_text,
    survives_query,
)

if TYPE_CHECKING:
    from ..target import Target


pytestmark = pytest.mark.conformance


async def get(client: httpx.AsyncClient, target: Target, fixture_id: str, inputs: dict[str, Any], **control: str):
    params = {key: query_text(value) for key, value in inputs.items()} | control
    return await client.get(target.execute_path(fixture_id), params=params, headers=target.auth(fixture_id))


def csv_rows(response: httpx.Response) -> list[list[str]]:
    """The CSV answer's rows: a header and one row of values (the shape every CSV check judges first)."""
    assert response.status_code == 200, f"expected 200, got {excerpt(response)}"
    try:
        rows = list(csv.reader(io.StringIO(response.text)))
    except csv.Error as exc:
        raise AssertionError(f"the CSV cannot be read ({exc}): {excerpt(response)}") from None
    assert len(rows) == 2, f"expected a header row and one row of values, got {len(rows)} rows: {excerpt(response)}"
    return rows


def flat(value: Any) -> list[Any]:
    return [cell for row in value for cell in row] if isinstance(value, list) else [value]


def same_text(text: str, expected: Any) -> bool:
    """A csv/plain field against a JSON value: numbers by value, a range comma-joined, empty for null."""
    if isinstance(expected, list):
        parts = text.split(",")
        cells = flat(expected)
        return len(parts) == len(cells) and all(same_text(p, c) for p, c in zip(parts, cells, strict=True))
    if expected is None:
        return text == ""
    if isinstance(expected, bool):
        return text.lower() == str(expected).lower()
    if isinstance(expected, int | float):
        try:
            return same_value(float(text), float(expected))
        except ValueError:
            return False
    return text == expected


def plain_lines(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.status_code == 200, f"expected 200, got {excerpt(response)}"
    pairs = []
    for line in response.text.splitlines():
        name, sep, value = line.partition(":")
        assert sep, f"plain line without ':': {line!r} in {excerpt(response)}"
        pairs.append((name, value.removeprefix(" ")))
    return pairs


@pytest.mark.parametrize("param", golden_params(), ids=golden_id)
async def test_golden_get_outputs(client, target, param):
    """REST-GET-001 MUST: golden cases via GET query parameters equal the model's outputs (behaviour 2.2)."""
    case = golden(target, param)
    if reason := survives_query(target.fixture(param[0]), case["inputs"]):
        not_applicable(f"not expressible as a query string: {reason}")
    body = ok_json(await get(client, target, param[0], case["inputs"]))
    diff = differences(outputs_of(body), case["outputs"])
    assert not diff, f"{case['title']}: outputs differ {{name: (server, expected)}}: {diff}"


@pytest.mark.parametrize("param", golden_params(), ids=golden_id)
async def test_golden_get_echo(client, target, param):
    """REST-GET-002 MUST: via GET the echoed inputs are the values written, as for POST (behaviour 2.2)."""
    case = golden(target, param)
    if reason := survives_query(target.fixture(param[0]), case["inputs"]):
        not_applicable(f"not expressible as a query string: {reason}")
    body = ok_json(await get(client, target, param[0], case["inputs"]))
    diff = differences(echo_of(body), case["cells"])
    assert not diff, f"{case['title']}: echoed values differ {{name: (server, expected)}}: {diff}"


async def test_get_keys_case_insensitive(client, target):
    """REST-GET-003 MUST: query keys match inputs in any case (behaviour 2.2)."""
    response = await get(client, target, "loan-calculator", {"PRINCIPAL": 250000, "Rate": "5%", "YEARS": 30})
    assert same_value(outputs_of(ok_json(response))["payment"], 1342.05), excerpt(response)


async def test_get_json_equals_post(client, target):
    """REST-GET-004 MUST: `_format=json` gives the same outputs as POST with the same inputs (behaviour 2.2)."""
    posted = outputs_of(ok_json(await post(client, target, "quote", {**QUOTE, "express": True})))
    got = ok_json(await get(client, target, "quote", {**QUOTE, "express": True}, _format="json"))
    diff = differences(outputs_of(got), posted)
    assert not diff, f"GET differs from POST {{name: (GET, POST)}}: {diff}"


async def test_csv_header_and_one_row(client, target):
    """REST-GET-005 MUST: `_format=csv` is a header row of the output names and one row of values (2.2)."""
    rows = csv_rows(await get(client, target, "loan-calculator", LOAN, _format="csv"))
    names = [o.name for o in target.fixture("loan-calculator").outputs]
    assert rows[0] == names, f"csv header {rows[0]!r}, expected {names!r}"
    assert len(rows[1]) == len(names), f"csv value row {rows[1]!r}"


async def test_csv_values(client, target):
    """REST-GET-006 MUST: csv values equal the outputs; a range flattens comma-joined into one field (2.2)."""
    case = target.fixture("loan-calculator").golden[0]
    rows = csv_rows(await get(client, target, "loan-calculator", case["inputs"], _format="csv"))
    got = dict(zip(rows[0], rows[1], strict=False))
    wrong = {n: (got.get(n), v) for n, v in case["outputs"].items() if not same_text(got.get(n, "<missing>"), v)}
    assert not wrong, f"csv fields differ {{name: (csv, expected)}}: {wrong}"


async def test_csv_quoting_and_blank(client, target):
    """REST-GET-007 SHOULD: csv fields are RFC 4180 quoted (commas, quotes, non-ASCII); an empty cell is empty."""
    inputs = {"numerator": 3, "denominator": 0, "name": 'Doe, "Jo" Ægir'}
    rows = csv_rows(await get(client, target, "edge-cases", inputs, _format="csv"))
    got = dict(zip(rows[0], rows[1], strict=False))
    expected = {"ratio": "#DIV/0!", "greeting": 'Grüße, Doe, "Jo" Ægir! ✓ 你好', "blank": ""}
    assert {k: got.get(k) for k in expected} == expected, f"csv rows {rows!r}"


async def test_csv_content_type(client, target):
    """REST-GET-008 MUST: `_format=csv` answers Content-Type text/csv (behaviour 2.2)."""
    response = await get(client, target, "loan-calculator", LOAN, _format="csv")
    assert response.status_code == 200, excerpt(response)
    assert response.headers.get("content-type", "").startswith("text/csv"), excerpt(response)


async def test_plain_one_line_per_output(client, target):
    """REST-GET-009 MUST: `_format=plain` is one `name: value` line per output, in order (behaviour 2.2)."""
    pairs = plain_lines(await get(client, target, "edge-cases", EDGE, _format="plain"))
    names = [o.name for o in target.fixture("edge-cases").outputs]
    assert [name for name, _ in pairs] == names, f"plain lines {pairs!r}"


async def test_plain_values(client, target):
    """REST-GET-010 MUST: plain values equal the outputs; ranges comma-joined, empty cell empty (2.2)."""
    for fixture_id in ("edge-cases", "loan-calculator"):
        case = target.fixture(fixture_id).golden[1]
        got = dict(plain_lines(await get(client, target, fixture_id, case["inputs"], _format="plain")))
        wrong = {n: (got.get(n), v) for n, v in case["outputs"].items() if not same_text(got.get(n, "<missing>"), v)}
        assert not wrong, f"{fixture_id}: plain values differ {{name: (plain, expected)}}: {wrong}"


async def test_plain_content_type(client, target):
    """REST-GET-011 MUST: `_format=plain` answers Content-Type text/plain (behaviour 2.2)."""
    response = await get(client, target, "edge-cases", EDGE, _format="plain")
    assert response.status_code == 200, excerpt(response)
    assert response.headers.get("content-type", "").startswith("text/plain"), excerpt(response)


@pytest.mark.parametrize("fmt", ["csv", "plain"])
async def test_get_error_stays_json(client, target, fmt):
    """REST-GET-012 MUST: a validation error on GET is the JSON error body whatever `_format` asks (2.2)."""
    response = await get(client, target, "loan-calculator", {**LOAN, "years": 0}, _format=fmt)
    body = error_json(response, 400)
    assert body["error"] == "Parameter validation failed", excerpt(response)
    assert json_body(response)["details"]["errors"][0]["name"] == "years", excerpt(response)
