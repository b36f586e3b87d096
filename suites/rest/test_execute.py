"""Execute succeeds with the model's results: POST and GET (behaviour 1.11, 2.1, 2.2)."""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime
from typing import Any

import httpx
import pytest

from spreadapi_conformance.oracle import differences, expected_outputs, same_value
from spreadapi_conformance.strategies import cells_for

from ._support import (
    echo_of,
    error_json,
    excerpt,
    golden_id,
    golden_params,
    json_body,
    ok_json,
    outputs_of,
    query_text,
    survives_query,
)

pytestmark = pytest.mark.conformance

LOAN = {"principal": 250000, "rate": 0.05, "years": 30}
QUOTE = {"product": "widget", "quantity": 10}
EDGE = {"numerator": 1, "denominator": 4}


async def post(client: httpx.AsyncClient, target: Any, fixture_id: str, inputs: Any, **extra: Any) -> httpx.Response:
    return await client.post(
        target.execute_path(fixture_id), json={"inputs": inputs, **extra}, headers=target.auth(fixture_id)
    )


async def get(client: httpx.AsyncClient, target: Any, fixture_id: str, inputs: dict[str, Any], **control: str):
    params = {key: query_text(value) for key, value in inputs.items()} | control
    return await client.get(target.execute_path(fixture_id), params=params, headers=target.auth(fixture_id))


def golden(target: Any, param: tuple[str, int]) -> dict[str, Any]:
    fixture_id, index = param
    return target.fixture(fixture_id).golden[index]


# --- golden cases -----------------------------------------------------------------------------------


@pytest.mark.parametrize("param", golden_params(), ids=golden_id)
async def test_golden_post_outputs(client, target, param):
    """REST-EXEC-001 MUST: golden cases via POST equal the model's outputs (seed Option 1; behaviour 2.1)."""
    case = golden(target, param)
    body = ok_json(await post(client, target, param[0], case["inputs"]))
    diff = differences(outputs_of(body), case["outputs"])
    assert not diff, f"{case['title']}: outputs differ {{name: (server, expected)}}: {diff}"


@pytest.mark.parametrize("param", golden_params(), ids=golden_id)
async def test_golden_post_echo(client, target, param):
    """REST-EXEC-002 MUST: the echoed inputs are the values written: coerced, defaults added (behaviour 1.11)."""
    case = golden(target, param)
    body = ok_json(await post(client, target, param[0], case["inputs"]))
    echo = echo_of(body)
    assert set(echo) == set(case["cells"]), f"{case['title']}: echoed {sorted(echo)}, expected {sorted(case['cells'])}"
    diff = differences(echo, case["cells"])
    assert not diff, f"{case['title']}: echoed values differ {{name: (server, expected)}}: {diff}"


@pytest.mark.parametrize("param", golden_params(), ids=golden_id)
async def test_golden_get_outputs(client, target, param):
    """REST-GET-001 MUST: golden cases via GET query parameters equal the model's outputs (behaviour 2.2)."""
    case = golden(target, param)
    if reason := survives_query(target.fixture(param[0]), case["inputs"]):
        pytest.skip(f"not expressible as a query string: {reason}")
    body = ok_json(await get(client, target, param[0], case["inputs"]))
    diff = differences(outputs_of(body), case["outputs"])
    assert not diff, f"{case['title']}: outputs differ {{name: (server, expected)}}: {diff}"


@pytest.mark.parametrize("param", golden_params(), ids=golden_id)
async def test_golden_get_echo(client, target, param):
    """REST-GET-002 MUST: via GET the echoed inputs are the values written, as for POST (behaviour 2.2)."""
    case = golden(target, param)
    if reason := survives_query(target.fixture(param[0]), case["inputs"]):
        pytest.skip(f"not expressible as a query string: {reason}")
    body = ok_json(await get(client, target, param[0], case["inputs"]))
    diff = differences(echo_of(body), case["cells"])
    assert not diff, f"{case['title']}: echoed values differ {{name: (server, expected)}}: {diff}"


# --- response shape ---------------------------------------------------------------------------------


async def test_success_shape(client, target):
    """REST-EXEC-003 MUST: the success body is {service:{id,name,description}, inputs, outputs, metadata} (2.1)."""
    response = await post(client, target, "loan-calculator", LOAN)
    body = ok_json(response)
    assert {"service", "inputs", "outputs", "metadata"} <= set(body), f"top-level keys {sorted(body)}"
    service = body["service"]
    assert service.get("id") == target.published("loan-calculator").id, f"service {service!r}"
    assert isinstance(service.get("name"), str), f"service.name is not a string: {service!r}"
    assert "description" in service, f"service has no description: {service!r}"
    for item in body["inputs"]:
        assert {"name", "title", "value"} <= set(item), f"input item {item!r}"
    for item in body["outputs"]:
        assert {"name", "title", "value"} <= set(item), f"output item {item!r}"


async def test_success_content_type(client, target):
    """REST-EXEC-004 MUST: a successful POST answers application/json (behaviour 2.1)."""
    response = await post(client, target, "loan-calculator", LOAN)
    assert response.status_code == 200, excerpt(response)
    assert response.headers.get("content-type", "").startswith("application/json"), excerpt(response)


@pytest.mark.parametrize("fixture_id", ["loan-calculator", "quote"])
async def test_outputs_follow_definition(client, target, fixture_id):
    """REST-EXEC-005 MUST: every defined output is returned with its title, and its formatString when defined (2.1)."""
    service = target.fixture(fixture_id)
    inputs = LOAN if fixture_id == "loan-calculator" else QUOTE
    body = ok_json(await post(client, target, fixture_id, inputs))
    returned = {o["name"]: o for o in body["outputs"]}
    assert list(returned) == [o.name for o in service.outputs], f"outputs {list(returned)}"
    for spec in service.outputs:
        item = returned[spec.name]
        assert item["title"] == spec.title, f"{spec.name}: title {item['title']!r}, expected {spec.title!r}"
        if spec.format_string:
            assert item.get("formatString") == spec.format_string, f"{spec.name}: {item!r}"


async def test_metadata(client, target):
    """REST-EXEC-006 MUST: metadata has executionTime, totalTime, an ISO timestamp and version "v1" (2.1)."""
    body = ok_json(await post(client, target, "loan-calculator", LOAN))
    metadata = body["metadata"]
    assert metadata.get("version") == "v1", f"metadata {metadata!r}"
    for key in ("executionTime", "totalTime"):
        value = metadata.get(key)
        assert isinstance(value, int | float) and not isinstance(value, bool) and value >= 0, f"metadata {metadata!r}"
    stamp = metadata.get("timestamp")
    assert isinstance(stamp, str), f"metadata {metadata!r}"
    try:
        datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        pytest.fail(f"metadata.timestamp is not ISO 8601: {metadata!r}")


# --- input processing (1.11) ------------------------------------------------------------------------


async def test_keys_case_insensitive(client, target):
    """REST-EXEC-007 MUST: input keys match in any case (behaviour 1.11 step 1)."""
    lower = outputs_of(ok_json(await post(client, target, "loan-calculator", LOAN)))
    mixed = {"PRINCIPAL": 250000, "Rate": 0.05, "yEaRs": 30}
    response = await post(client, target, "loan-calculator", mixed)
    diff = differences(outputs_of(ok_json(response)), lower)
    assert not diff, f"upper/mixed-case keys give other outputs {{name: (mixed, lower)}}: {diff}"


async def test_percentage_forms(client, target):
    """REST-EXEC-008 MUST: a percentage input given as "5%", 0.05 or 5 means five percent (1.11 step 3a)."""
    payments = {}
    for rate in ("5%", 0.05, 5):
        body = ok_json(await post(client, target, "loan-calculator", {**LOAN, "rate": rate}))
        payments[repr(rate)] = outputs_of(body)["payment"]
    assert all(same_value(p, 1342.05) for p in payments.values()), f"payment by rate form: {payments}"


@pytest.mark.parametrize(
    ("fixture_id", "inputs", "name", "canonical"),
    [
        ("quote", {"product": "GIZMO", "quantity": 3}, "product", "gizmo"),
        ("quote", {"product": " Gadget ", "quantity": 3}, "product", "gadget"),
        ("loan-calculator", {**LOAN, "frequency": "Quarterly"}, "frequency", "quarterly"),
    ],
)
async def test_enum_canonicalised(client, target, fixture_id, inputs, name, canonical):
    """REST-EXEC-009 MUST: an enum value matches case-insensitively, trimmed, and is written as declared (1.11)."""
    body = ok_json(await post(client, target, fixture_id, inputs))
    assert echo_of(body).get(name) == canonical, f"echoed {body['inputs']!r}"
    expected = expected_outputs(fixture_id, cells_for(target.fixture(fixture_id), {**inputs, name: canonical}))
    diff = differences(outputs_of(body), expected)
    assert not diff, f"outputs differ from the canonical value's {{name: (server, expected)}}: {diff}"


@pytest.mark.parametrize(
    ("fixture_id", "inputs", "defaults"),
    [
        ("quote", QUOTE, {"express": False}),
        ("loan-calculator", LOAN, {"frequency": "monthly"}),
        ("edge-cases", EDGE, {"name": "Welt", "exponent": 10}),
    ],
)
async def test_defaults_echoed(client, target, fixture_id, inputs, defaults):
    """REST-EXEC-010 MUST: an omitted optional input is written with its default and echoed (1.11 step 4)."""
    echo = echo_of(ok_json(await post(client, target, fixture_id, inputs)))
    diff = differences(echo, defaults)
    assert not diff, f"defaults not echoed {{name: (server, default)}}: {diff}"


@pytest.mark.parametrize("blank", [None, ""], ids=["null", "empty"])
async def test_blank_optional_gets_default(client, target, blank):
    """REST-EXEC-011 MUST: an optional input sent as null or "" counts as not sent: the default applies (1.11)."""
    body = ok_json(await post(client, target, "edge-cases", {**EDGE, "name": blank}))
    assert outputs_of(body)["greeting"] == "Grüße, Welt! ✓ 你好", f"outputs {body['outputs']!r}"


async def test_formula_error_is_a_value(client, target):
    """REST-EXEC-012 MUST: a formula error is a 200 with the error literal as the value (behaviour 1.10)."""
    body = ok_json(await post(client, target, "edge-cases", {"numerator": 3, "denominator": 0}))
    assert outputs_of(body)["ratio"] == "#DIV/0!", f"outputs {body['outputs']!r}"


async def test_blank_output_is_null(client, target):
    """REST-EXEC-013 MUST: an empty output cell is JSON null (behaviour 1.10)."""
    body = ok_json(await post(client, target, "edge-cases", EDGE))
    outputs = outputs_of(body)
    assert "blank" in outputs and outputs["blank"] is None, f"outputs {body['outputs']!r}"


async def test_range_output_is_rows_of_cells(client, target):
    """REST-EXEC-014 MUST: a range output is a list of rows, 3 rows x 4 columns for Schedule!A2:D4 (1.4)."""
    schedule = outputs_of(ok_json(await post(client, target, "loan-calculator", LOAN)))["schedule"]
    assert isinstance(schedule, list) and len(schedule) == 3, f"schedule {schedule!r}"
    assert all(isinstance(row, list) and len(row) == 4 for row in schedule), f"schedule {schedule!r}"


async def test_non_ascii_text_exact(client, target):
    """REST-EXEC-015 MUST: non-ASCII text goes in and comes out unchanged (behaviour 1.10)."""
    body = ok_json(await post(client, target, "edge-cases", {**EDGE, "name": "Zoë Ægir ★ 你好"}))
    assert echo_of(body)["name"] == "Zoë Ægir ★ 你好", f"echoed {body['inputs']!r}"
    assert outputs_of(body)["greeting"] == "Grüße, Zoë Ægir ★ 你好! ✓ 你好", f"outputs {body['outputs']!r}"


async def test_huge_number_output(client, target):
    """REST-EXEC-016 MUST: a number near the top of the double range is a finite JSON number (behaviour 1.10)."""
    body = ok_json(await post(client, target, "edge-cases", {**EDGE, "exponent": 308}))
    value = outputs_of(body)["power_of_ten"]
    assert isinstance(value, int | float) and math.isfinite(value), f"power_of_ten {value!r}"
    assert same_value(value, 1e308), f"power_of_ten {value!r}"


async def test_unknown_keys_ignored(client, target):
    """REST-EXEC-017 MUST: keys that match no input are ignored, whatever their characters (1.11 step 3)."""
    plain = outputs_of(ok_json(await post(client, target, "loan-calculator", LOAN)))
    extra = {**LOAN, "zinssätze✓": 7, "名前": "x", "": 1}
    body = ok_json(await post(client, target, "loan-calculator", extra))
    diff = differences(outputs_of(body), plain)
    assert not diff, f"unknown keys changed the outputs {{name: (server, expected)}}: {diff}"


# --- GET and _format (2.2) --------------------------------------------------------------------------


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


def csv_rows(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, f"expected 200, got {excerpt(response)}"
    return list(csv.reader(io.StringIO(response.text)))


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


async def test_csv_header_and_one_row(client, target):
    """REST-GET-005 MUST: `_format=csv` is a header row of the output names and one row of values (2.2)."""
    rows = csv_rows(await get(client, target, "loan-calculator", LOAN, _format="csv"))
    names = [o.name for o in target.fixture("loan-calculator").outputs]
    assert len(rows) == 2, f"csv rows {rows!r}"
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
    """REST-GET-007 MUST: csv fields are RFC 4180 quoted (commas, quotes, non-ASCII); an empty cell is empty."""
    inputs = {"numerator": 3, "denominator": 0, "name": 'Doe, "Jo" Ægir'}
    rows = csv_rows(await get(client, target, "edge-cases", inputs, _format="csv"))
    got = dict(zip(rows[0], rows[1], strict=False)) if len(rows) == 2 else {}
    expected = {"ratio": "#DIV/0!", "greeting": 'Grüße, Doe, "Jo" Ægir! ✓ 你好', "blank": ""}
    assert {k: got.get(k) for k in expected} == expected, f"csv rows {rows!r}"


async def test_csv_content_type(client, target):
    """REST-GET-008 MUST: `_format=csv` answers Content-Type text/csv (behaviour 2.2)."""
    response = await get(client, target, "loan-calculator", LOAN, _format="csv")
    assert response.status_code == 200, excerpt(response)
    assert response.headers.get("content-type", "").startswith("text/csv"), excerpt(response)


def plain_lines(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.status_code == 200, f"expected 200, got {excerpt(response)}"
    pairs = []
    for line in response.text.splitlines():
        name, sep, value = line.partition(":")
        assert sep, f"plain line without ':': {line!r} in {excerpt(response)}"
        pairs.append((name, value.removeprefix(" ")))
    return pairs


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
