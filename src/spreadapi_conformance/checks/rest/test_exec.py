"""REST-EXEC: execute by POST succeeds with the model's results (behaviour 1.10, 1.11, 2.1).

REST-EXEC-020 is a property over generated valid inputs: hypothesis drives a sync check, each example one
request on a fresh client and event loop, so nothing is shared between examples but the server itself.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spreadapi_conformance.oracle import differences, expected_outputs, same_value
from spreadapi_conformance.strategies import cells_for, valid_inputs

from ..answers import field, json_object, objects
from ._support import (
    EDGE,
    FIXTURE_IDS,
    LOAN,
    QUOTE,
    echo_of,
    excerpt,
    golden,
    golden_id,
    golden_params,
    ok_json,
    outputs_of,
    post,
    post_inputs,
)

pytestmark = pytest.mark.conformance


def written(service, inputs: dict[str, Any]) -> dict[str, Any]:
    # An optional input sent as "" counts as not sent (behaviour 1.11 steps 3-4): its default is written.
    # strategies.cells_for would write the "" itself, so drop those before asking it.
    sent = {k: v for k, v in inputs.items() if not (v == "" and not service.input(k).mandatory)}
    return cells_for(service, sent)


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
    returned = {o.get("name"): o for o in objects(body, "outputs", "the execute body")}
    assert list(returned) == [o.name for o in service.outputs], f"outputs {list(returned)}"
    for spec in service.outputs:
        item = returned[spec.name]
        assert item.get("title") == spec.title, f"{spec.name}: title {item.get('title')!r}, expected {spec.title!r}"
        if spec.format_string:
            assert item.get("formatString") == spec.format_string, f"{spec.name}: {item!r}"


async def test_metadata(client, target):
    """REST-EXEC-006 MUST: metadata has executionTime, totalTime, an ISO timestamp and version "v1" (2.1)."""
    body = ok_json(await post(client, target, "loan-calculator", LOAN))
    metadata = field(body, "metadata", kind=dict, what="the execute body")
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


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
@given(data=st.data())
def test_valid_inputs_compute_the_model(target, fixture_id, data):
    """REST-EXEC-020 MUST: any valid inputs give 200 and the model's outputs for the written cells (1.10, 1.11)."""
    service = target.fixture(fixture_id)
    inputs = data.draw(valid_inputs(service), label="inputs")
    response = post_inputs(target, fixture_id, inputs)
    assert response.status_code == 200, f"valid inputs {inputs!r} refused: {excerpt(response)}"
    outputs = outputs_of(json_object(response))
    diff = differences(outputs, expected_outputs(fixture_id, written(service, inputs)))
    assert not diff, f"inputs {inputs!r}: outputs differ {{name: (server, expected)}}: {diff}"
