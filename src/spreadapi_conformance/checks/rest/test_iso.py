"""REST-ISO: requests do not leak into each other: concurrency, and inputs a previous request set
(behaviour 1.10, "shared-workbook caveat": a conforming server resets every omitted input to its default).
"""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from spreadapi_conformance.oracle import differences, expected_outputs
from spreadapi_conformance.strategies import cells_for

from ._support import excerpt, ok_json, outputs_of

if TYPE_CHECKING:
    from ..target import Target


pytestmark = pytest.mark.conformance


CONCURRENT = 40


async def post(client: httpx.AsyncClient, target: Target, fixture_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # nocache: a result cache must not be what makes these pass or fail.
    response = await client.post(
        target.execute_path(fixture_id), json={"inputs": inputs, "nocache": True}, headers=target.auth(fixture_id)
    )
    assert response.status_code == 200, f"inputs {inputs!r}: {excerpt(response)}"
    return ok_json(response)


def expected(target: Target, fixture_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return expected_outputs(fixture_id, cells_for(target.fixture(fixture_id), inputs))


async def test_concurrent_requests_get_their_own_results(client, target):
    """REST-ISO-001 MUST: 40 concurrent calls with different inputs each get exactly their own outputs."""
    rng = random.Random(2024)
    batch = [
        {
            "principal": rng.randrange(1000, 10_000_000),
            "rate": round(rng.uniform(0, 0.2), 4),
            "years": rng.randrange(1, 41),
            **({"frequency": rng.choice(["monthly", "quarterly"])} if i % 2 else {}),
        }
        for i in range(CONCURRENT)
    ]
    bodies = await asyncio.gather(*(post(client, target, "loan-calculator", inputs) for inputs in batch))
    wrong = {}
    for i, (inputs, body) in enumerate(zip(batch, bodies, strict=True)):
        diff = differences(outputs_of(body), expected(target, "loan-calculator", inputs))
        if diff:
            wrong[i] = (inputs, diff)
    assert not wrong, f"{len(wrong)}/{CONCURRENT} answers belong to other inputs: {list(wrong.items())[:3]}"


async def test_concurrent_optional_inputs_do_not_leak(client, target):
    """REST-ISO-002 MUST: concurrent calls that set or omit an optional input each see their own value or the
    default, never another call's."""
    batch = [
        {"product": ["widget", "gadget", "gizmo"][i % 3], "quantity": i + 1, **({"express": True} if i % 2 else {})}
        for i in range(CONCURRENT)
    ]
    bodies = await asyncio.gather(*(post(client, target, "quote", inputs) for inputs in batch))
    wrong = {}
    for i, (inputs, body) in enumerate(zip(batch, bodies, strict=True)):
        diff = differences(outputs_of(body), expected(target, "quote", inputs))
        if diff:
            wrong[i] = (inputs, diff)
    assert not wrong, f"{len(wrong)}/{CONCURRENT} answers belong to other inputs: {list(wrong.items())[:3]}"


async def test_omitted_boolean_gets_default_after_true(client, target):
    """REST-ISO-003 MUST: express omitted after a call with express=true ships at the default (false) rate."""
    plain = {"product": "widget", "quantity": random.randrange(1, 1001)}  # fresh, so no cache answers for it
    express = outputs_of(await post(client, target, "quote", {**plain, "express": True}))
    assert not differences(express, expected(target, "quote", {**plain, "express": True})), f"express: {express!r}"
    after = outputs_of(await post(client, target, "quote", plain))
    diff = differences(after, expected(target, "quote", plain))
    assert not diff, f"after express=true, the call without express differs {{name: (server, default)}}: {diff}"


async def test_omitted_text_gets_default_after_value(client, target):
    """REST-ISO-004 MUST: name omitted after a call with name="X" greets the default "Welt" again."""
    numerator = random.randrange(1, 10**6)
    first = outputs_of(
        await post(client, target, "edge-cases", {"numerator": numerator, "denominator": 7, "name": "X"})
    )
    assert first["greeting"] == "Grüße, X! ✓ 你好", f"greeting {first['greeting']!r}"
    after = outputs_of(await post(client, target, "edge-cases", {"numerator": numerator, "denominator": 7}))
    assert after["greeting"] == "Grüße, Welt! ✓ 你好", f"greeting {after['greeting']!r} after name='X'"


async def test_omitted_number_gets_default_after_value(client, target):
    """REST-ISO-005 MUST: exponent omitted after a call with exponent=308 uses the default 10 again."""
    numerator = random.randrange(1, 10**6)
    await post(client, target, "edge-cases", {"numerator": numerator, "denominator": 7, "exponent": 308})
    after = outputs_of(await post(client, target, "edge-cases", {"numerator": numerator, "denominator": 7}))
    assert after["power_of_ten"] == 10**10, f"power_of_ten {after['power_of_ten']!r} after exponent=308"


async def test_error_leaves_no_state(client, target):
    """REST-ISO-006 MUST: a refused call writes nothing: the next call computes from its own inputs only."""
    quantity = random.randrange(1, 40)
    refused = await client.post(
        target.execute_path("quote"),
        json={"inputs": {"product": "gizmo", "quantity": quantity, "express": "maybe"}},
        headers=target.auth("quote"),
    )
    assert refused.status_code == 400, excerpt(refused)
    after = outputs_of(await post(client, target, "quote", {"product": "widget", "quantity": quantity}))
    diff = differences(after, expected(target, "quote", {"product": "widget", "quantity": quantity}))
    assert not diff, f"outputs after a refused call differ {{name: (server, expected)}}: {diff}"
