"""Property: for any valid inputs, ``spreadapi_calc`` over MCP computes what REST ``execute`` computes.

Hypothesis drives sync tests; each example runs on its own event loop (with the in-process app's
lifespan entered for it), opens one SDK session at a drawn revision and makes one REST call.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spreadapi_conformance.strategies import valid_inputs

from ._support import FIXTURE_IDS, LATEST, MODERN, rest_result, running, target_session, tool_text

pytestmark = pytest.mark.conformance


async def both(target: Any, fixture_id: str, inputs: dict[str, Any], revision: str) -> tuple[Any, Any]:
    async with running(target.app):
        async with target.client() as http:
            response = await http.post(
                target.execute_path(fixture_id), json={"inputs": inputs}, headers=target.auth(fixture_id)
            )
        token = target.auth(fixture_id).get("Authorization", "").removeprefix("Bearer ") or None
        path = target.path("single_service_mcp", fixture=fixture_id)
        async with target_session(target, path, token=token, revision=revision) as s:
            result = await s.call_tool("spreadapi_calc", {"inputs": inputs})
    return response, result


@pytest.fixture
def drawn_revisions(mcp_revisions: tuple[str, ...]) -> list[str]:
    """2025-11-25 and 2026-07-28, less those --mcp-revision leaves out."""
    revisions = [r for r in (LATEST, MODERN) if r in mcp_revisions]
    if not revisions:
        pytest.skip(f"not run: MCP revisions {LATEST} and {MODERN} are not selected (--mcp-revision)")
    return revisions


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
@given(data=st.data())
def test_calc_over_mcp_equals_execute(target, fixture_id, drawn_revisions, data):
    """MCP-TOOLS-030 MUST: for generated valid inputs, spreadapi_calc's service, inputs and outputs equal REST
    execute's for the same inputs, at 2025-11-25 and at 2026-07-28."""
    service = target.fixture(fixture_id)
    inputs = data.draw(valid_inputs(service), label="inputs")
    revision = data.draw(st.sampled_from(drawn_revisions), label="revision")
    response, result = asyncio.run(both(target, fixture_id, inputs, revision))
    assert response.status_code == 200, f"REST refused valid inputs {inputs!r}: {response.text[:300]}"
    assert not result.is_error, f"MCP refused valid inputs {inputs!r}: {tool_text(result)}"
    assert rest_result(result.structured_content) == rest_result(response.json()), inputs
