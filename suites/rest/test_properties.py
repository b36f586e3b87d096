"""Properties over generated inputs: valid ones compute the model's outputs, invalid ones are refused.

Hypothesis drives sync tests; each example makes one request on a fresh client and event loop, so
nothing (connection, loop, in-process state) is shared between examples but the server itself.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spreadapi_conformance.oracle import differences, expected_outputs
from spreadapi_conformance.strategies import cells_for, invalid_inputs, valid_inputs

from ._support import FIXTURE_IDS, TRACEBACK, excerpt, json_body, request_once

pytestmark = pytest.mark.conformance


def post_inputs(target: Any, fixture_id: str, inputs: dict[str, Any]):
    return request_once(
        target, "POST", target.execute_path(fixture_id), json={"inputs": inputs}, headers=target.auth(fixture_id)
    )


def written(service, inputs: dict[str, Any]) -> dict[str, Any]:
    # An optional input sent as "" counts as not sent (behaviour 1.11 steps 3-4): its default is written.
    # strategies.cells_for would write the "" itself, so drop those before asking it.
    sent = {k: v for k, v in inputs.items() if not (v == "" and not service.input(k).mandatory)}
    return cells_for(service, sent)


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
@given(data=st.data())
def test_valid_inputs_compute_the_model(target, fixture_id, data):
    """REST-EXEC-020 MUST: any valid inputs give 200 and the model's outputs for the written cells (1.10, 1.11)."""
    service = target.fixture(fixture_id)
    inputs = data.draw(valid_inputs(service), label="inputs")
    response = post_inputs(target, fixture_id, inputs)
    assert response.status_code == 200, f"valid inputs {inputs!r} refused: {excerpt(response)}"
    outputs = {o["name"]: o["value"] for o in json_body(response)["outputs"]}
    diff = differences(outputs, expected_outputs(fixture_id, written(service, inputs)))
    assert not diff, f"inputs {inputs!r}: outputs differ {{name: (server, expected)}}: {diff}"


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
@given(data=st.data())
def test_invalid_inputs_are_refused(target, fixture_id, data):
    """REST-ERR-040 MUST: inputs with one fault give 400 naming the input and the fault, nothing computed (1.11)."""
    service = target.fixture(fixture_id)
    inputs, name, kind = data.draw(invalid_inputs(service), label="inputs, broken, kind")
    response = post_inputs(target, fixture_id, inputs)
    said = f"{kind} of {name!r} in {inputs!r}: {excerpt(response)}"
    assert response.status_code == 400, f"expected 400 for {said}"
    assert TRACEBACK not in response.text, f"traceback in the body for {said}"
    body = json_body(response)
    assert "outputs" not in body, f"outputs computed despite {said}"
    if kind == "missing":
        assert body.get("error") == "Missing required parameters", f"wrong error for {said}"
        required = [r.get("name") for r in (body.get("details") or {}).get("required", [])]
        assert name in required, f"details.required does not name it for {said}"
    else:
        assert body.get("error") == "Parameter validation failed", f"wrong error for {said}"
        errors = (body.get("details") or {}).get("errors", [])
        assert any(e.get("name") == name and e.get("type") == kind for e in errors), f"no matching entry for {said}"
