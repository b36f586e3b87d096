"""MCP-TOOLS: the SpreadAPI tools of the MCP servers through the SDK client (behaviour 3.1): typed from
the service definition, results identical to the REST ``execute`` of the same inputs, batches, and errors
(``isError`` results for bad inputs, JSON-RPC errors for unknown tools and methods).

MCP-TOOLS-030 is a property: for any valid inputs, ``spreadapi_calc`` over MCP computes what REST
``execute`` computes. Hypothesis drives a sync check; each example runs on its own event loop, opens one
SDK session at a drawn revision and makes one REST call.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

import jsonschema
import mcp.types as types
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp.shared.exceptions import MCPError

from spreadapi_conformance.fixtures import InputDef, ServiceDef
from spreadapi_conformance.strategies import valid_inputs

from ..answers import json_object
from ..premise import not_applicable
from ..rest._support import golden_id, golden_params
from ._support import (
    BRIDGE_TOOLS,
    FIXTURE_IDS,
    LATEST,
    MODERN,
    instructions,
    modern_premise,
    modern_request,
    rest_execute,
    rest_result,
    result,
    running,
    said,
    service_session,
    target_session,
    tool_json,
    tool_text,
    transport_endpoint,
)

if TYPE_CHECKING:
    from ..target import Target


pytestmark = pytest.mark.conformance


READ_ONLY = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}


JSON_TYPES = {"number": "number", "integer": "integer", "boolean": "boolean", "string": "string"}


def percentage(spec: InputDef) -> bool:
    bounded = spec.min is not None and spec.max is not None and spec.min >= 0 and spec.max <= 1
    return spec.type in ("number", "integer") and (spec.format == "percentage" or bounded)


def check_property(spec: InputDef, prop: dict[str, Any]) -> None:
    """One input's schema says what the definition says: type, range, allowed values, default."""
    where = f"input {spec.name!r}: {prop!r}"
    assert prop.get("type") == JSON_TYPES[spec.type], where
    if spec.min is not None:
        assert prop.get("minimum") == spec.min, where
    if spec.max is not None:
        # A percentage may also be accepted in whole percent (5 for 5%): its maximum may be scaled.
        allowed = {spec.max, spec.max * 100} if percentage(spec) else {spec.max}
        assert prop.get("maximum") in allowed, where
    if spec.allowed_values:
        assert prop.get("enum") == list(spec.allowed_values), where
    if "default" in prop:
        assert prop["default"] == spec.default, where
    assert isinstance(prop.get("description") or prop.get("title"), str), f"{where} has no description"


def check_inputs_schema(service: ServiceDef, schema: dict[str, Any]) -> None:
    assert schema.get("type") == "object", schema
    properties = schema.get("properties", {})
    assert set(properties) == {s.name for s in service.inputs}, f"properties {sorted(properties)}"
    for spec in service.inputs:
        check_property(spec, properties[spec.name])
    assert sorted(schema.get("required", [])) == sorted(s.name for s in service.inputs if s.mandatory)


def tool(listing: types.ListToolsResult, name: str) -> types.Tool:
    found = [t for t in listing.tools if t.name == name]
    assert len(found) == 1, f"{name} listed {len(found)} times: {[t.name for t in listing.tools]}"
    return found[0]


def valid_structure(result: types.CallToolResult, listed: types.Tool) -> dict[str, Any]:
    """A successful result: structuredContent valid against the tool's outputSchema, and the same JSON as text."""
    assert not result.is_error, tool_text(result)
    structured = result.structured_content
    assert isinstance(structured, dict), f"no structuredContent: {result!r}"
    assert isinstance(listed.output_schema, dict), f"{listed.name} declares no outputSchema to hold its result to"
    try:
        jsonschema.validate(structured, listed.output_schema)
    except jsonschema.ValidationError as exc:
        raise AssertionError(f"structuredContent does not match {listed.name}'s outputSchema: {exc.message}") from None
    except jsonschema.SchemaError as exc:
        raise AssertionError(f"{listed.name}'s outputSchema is not a valid JSON Schema: {exc.message}") from None
    assert tool_json(result) == structured, "the text block does not carry the structured content"
    return structured


BAD_INPUTS = {
    "missing": ({"principal": 250000, "years": 30}, "rate"),
    "below minimum": ({"principal": 10, "rate": 0.05, "years": 30}, "principal"),
    "above maximum": ({"principal": 250000, "rate": 0.05, "years": 99}, "years"),
    "not allowed": ({"principal": 250000, "rate": 0.05, "years": 30, "frequency": "weekly"}, "frequency"),
    "not a number": ({"principal": "lots", "rate": 0.05, "years": 30}, "principal"),
}


async def both(target: Target, fixture_id: str, inputs: dict[str, Any], revision: str) -> tuple[Any, Any]:
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
    """2025-11-25 and 2026-07-28, less those --spreadapi-mcp-revision leaves out."""
    revisions = [r for r in (LATEST, MODERN) if r in mcp_revisions]
    if not revisions:
        pytest.skip(f"not run: MCP revisions {LATEST} and {MODERN} are not selected (--spreadapi-mcp-revision)")
    return revisions


async def test_instructions_tell_how_to_call(mcp_target):
    """MCP-TOOLS-001 SHOULD: the instructions explain percentages, allowed values, ranges and required inputs."""
    async with service_session(mcp_target, "loan-calculator") as s:
        text = instructions(s)
    lowered = text.lower()
    assert "percent" in lowered and "rate" in text, text
    assert "monthly" in text and "quarterly" in text, text
    assert "1000" in text and "10000000" in text and "40" in text, text
    assert "spreadapi_calc" in text and "spreadapi_batch" in text, text


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_tools_are_typed_from_the_definition(mcp_target, fixture_id):
    """MCP-TOOLS-002 MUST: spreadapi_calc's inputs schema has one property per input with its type, range,
    allowed values and default, and requires the mandatory inputs; batch items take the same inputs."""
    service = mcp_target.fixture(fixture_id)
    async with service_session(mcp_target, fixture_id) as s:
        listing = await s.list_tools()
    calc = tool(listing, "spreadapi_calc").input_schema
    assert calc["type"] == "object" and calc.get("required") == ["inputs"], calc
    check_inputs_schema(service, calc["properties"]["inputs"])
    batch = tool(listing, "spreadapi_batch").input_schema
    scenarios = batch["properties"]["scenarios"]
    assert batch.get("required") == ["scenarios"] and scenarios["type"] == "array", batch
    assert scenarios.get("minItems") == 2 and scenarios.get("maxItems") == 20, scenarios
    check_inputs_schema(service, scenarios["items"]["properties"]["inputs"])
    assert tool(listing, "spreadapi_get_details").input_schema["type"] == "object"


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_tools_are_read_only_with_output_schemas(mcp_target, fixture_id):
    """MCP-TOOLS-003 MUST: every tool declares an object outputSchema and read-only, idempotent, closed-world,
    non-destructive annotations."""
    async with service_session(mcp_target, fixture_id) as s:
        listing = await s.list_tools()
    for listed in listing.tools:
        assert listed.description, listed.name
        assert listed.output_schema and listed.output_schema.get("type") == "object", listed.name
        for which, schema in (("outputSchema", listed.output_schema), ("inputSchema", listed.input_schema)):
            try:
                jsonschema.Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as exc:
                raise AssertionError(f"{listed.name}'s {which} is not a valid JSON Schema: {exc.message}") from None
        annotations = listed.annotations.model_dump(by_alias=True, exclude_none=True) if listed.annotations else {}
        assert {k: annotations.get(k) for k in READ_ONLY} == READ_ONLY, f"{listed.name}: {annotations}"


@pytest.mark.parametrize("case", golden_params(), ids=golden_id)
async def test_golden_case_equals_rest(mcp_target, client, case):
    """MCP-TOOLS-010 MUST: spreadapi_calc on every golden case gives the service, inputs and outputs that REST
    execute gives for the same inputs, as structuredContent valid against the outputSchema and as text."""
    fixture_id, index = case
    inputs = mcp_target.fixture(fixture_id).golden[index]["inputs"]
    expected = rest_result(await rest_execute(client, mcp_target, fixture_id, inputs))
    async with service_session(mcp_target, fixture_id) as s:
        listing = await s.list_tools()
        result = await s.call_tool("spreadapi_calc", {"inputs": inputs})
    structured = valid_structure(result, tool(listing, "spreadapi_calc"))
    assert rest_result(structured) == expected


@pytest.mark.parametrize("revision", [LATEST, MODERN])
async def test_batch_equals_rest_per_scenario(mcp_target, client, revision):
    """MCP-TOOLS-011 MUST: spreadapi_batch answers each scenario in order, with its label, as calc would,
    and a failing scenario with its own error while the others compute."""
    service = mcp_target.fixture("loan-calculator")
    cases = [dict(case["inputs"]) for case in service.golden[:3]]
    broken = {**cases[0], "years": 99}
    scenarios = [{"label": f"case {i}", "inputs": inputs} for i, inputs in enumerate(cases)]
    scenarios += [{"inputs": broken}]
    async with service_session(mcp_target, "loan-calculator", revision) as s:
        listing = await s.list_tools()
        result = await s.call_tool("spreadapi_batch", {"scenarios": scenarios})
    structured = valid_structure(result, tool(listing, "spreadapi_batch"))
    answers = structured["scenarios"]
    assert [a["label"] for a in answers] == ["case 0", "case 1", "case 2", "Scenario 4"]
    for inputs, got in zip(cases, answers, strict=False):
        body = await rest_execute(client, mcp_target, "loan-calculator", inputs)
        assert got["outputs"] == body["outputs"] and got["inputs"] == body["inputs"], got
    assert "outputs" not in answers[3] and "years" in answers[3]["message"], answers[3]
    assert structured["metadata"]["scenarioCount"] == 4 and structured["metadata"]["successCount"] == 3


@pytest.mark.parametrize("count", [0, 1, 21])
async def test_batch_size_is_enforced(mcp_target, count):
    """MCP-TOOLS-012 MUST: fewer than 2 or more than 20 scenarios is an isError result, not a protocol error."""
    inputs = mcp_target.fixture("loan-calculator").golden[0]["inputs"]
    async with service_session(mcp_target, "loan-calculator") as s:
        result = await s.call_tool("spreadapi_batch", {"scenarios": [{"inputs": inputs}] * count})
    assert result.is_error and "scenarios" in tool_text(result), result


@pytest.mark.parametrize("kind", BAD_INPUTS)
async def test_invalid_inputs_are_error_results(mcp_target, kind):
    """MCP-TOOLS-013 MUST: invalid inputs give a tool result with isError and a text naming the input to fix
    (not a JSON-RPC error), and no outputs."""
    inputs, culprit = BAD_INPUTS[kind]
    async with service_session(mcp_target, "loan-calculator") as s:
        result = await s.call_tool("spreadapi_calc", {"inputs": inputs})
    assert result.is_error, f"{kind}: accepted {inputs!r}"
    assert culprit in tool_text(result), tool_text(result)
    assert not (isinstance(result.structured_content, dict) and "outputs" in result.structured_content)


@pytest.mark.parametrize("arguments", [{}, {"inputs": "principal=1"}, {"inputs": [1, 2]}, {"inputs": None}])
async def test_inputs_must_be_an_object(mcp_target, arguments):
    """MCP-TOOLS-014 MUST: spreadapi_calc without an inputs object is an isError result that says so."""
    async with service_session(mcp_target, "loan-calculator") as s:
        result = await s.call_tool("spreadapi_calc", arguments)
    assert result.is_error and "inputs" in tool_text(result), result


def listed_tools(listing: types.ListToolsResult) -> dict[str, Any]:
    """The listed tools by name, each as it travels (its whole definition)."""
    return {t.name: t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in listing.tools}


def changed_tools(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    names = sorted(set(before) | set(after))
    return [name for name in names if before.get(name) != after.get(name)]


@pytest.mark.parametrize("revision", [MODERN])
async def test_tool_list_is_the_same_on_every_connection(mcp_target, revision):
    """MCP-TOOLS-019 MUST NOT: with the same credential, tools/list gives the same tools (names and definitions)
    on two fresh connections, and again after a tools/call: the set does not vary per connection or as a side
    effect of other requests."""
    inputs = mcp_target.fixture("loan-calculator").golden[0]["inputs"]
    async with service_session(mcp_target, "loan-calculator", revision) as first:
        before = listed_tools(await first.list_tools())
    async with service_session(mcp_target, "loan-calculator", revision) as second:
        other = listed_tools(await second.list_tools())
        await second.call_tool("spreadapi_calc", {"inputs": inputs})
        after = listed_tools(await second.list_tools())
    assert not (differ := changed_tools(before, other)), f"two fresh connections list {differ} differently"
    assert not (differ := changed_tools(before, after)), f"after a tools/call, {differ} listed differently"


TCHAR = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 §5.6.2 token: an HTTP field-name
HEADER_TYPES = ("integer", "string", "boolean")


def header_annotations(schema: Any, path: str = "", reachable: bool = True) -> list[tuple[str, Any, bool, Any]]:
    """Every x-mcp-header in ``schema``: (where, its value, whether a chain of properties keys alone leads there,
    the annotated schema's type)."""
    if isinstance(schema, list):
        return [found for i, item in enumerate(schema) for found in header_annotations(item, f"{path}/{i}", False)]
    if not isinstance(schema, dict):
        return []
    found = [(path or "/", schema["x-mcp-header"], reachable, schema.get("type"))] if "x-mcp-header" in schema else []
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            for name, prop in value.items():
                found += header_annotations(prop, f"{path}/properties/{name}", reachable)
        elif key != "x-mcp-header":
            found += header_annotations(value, f"{path}/{key}", False)
    return found


def primitive(kind: Any) -> bool:
    """An integer, string or boolean type (a nullable one too: a null value only leaves the header out)."""
    kinds = [k for k in kind if k != "null"] if isinstance(kind, list) else [kind]
    return bool(kinds) and all(k in HEADER_TYPES for k in kinds)


def header_problems(tool: dict[str, Any]) -> list[str]:
    """How the tool's x-mcp-header annotations break the rules (2026-07-28 server/tools, x-mcp-header)."""
    problems, seen = [], {}
    for where, value, reachable, kind in header_annotations(tool.get("inputSchema")):
        if not isinstance(value, str) or not TCHAR.fullmatch(value):
            problems.append(f"{where}: {value!r} is not a non-empty HTTP token")
        elif value.lower() in seen:
            problems.append(f"{where}: {value!r} repeats {seen[value.lower()]} (case-insensitively)")
        else:
            seen[value.lower()] = where
        if not reachable:
            problems.append(f"{where}: not reachable from the root through properties alone")
        if not primitive(kind):
            problems.append(f"{where}: on a property of type {kind!r}, not integer, string or boolean")
    return [f"{tool.get('name')}: {problem}" for problem in problems]


@pytest.mark.parametrize("revision", [MODERN])
async def test_header_annotations_follow_the_rules(mcp_target, client, revision):
    """MCP-TOOLS-020 MUST: every x-mcp-header in the input schemas tools/list gives at 2026-07-28 is a non-empty
    HTTP token, case-insensitively unique in its schema, on an integer, string or boolean property reachable from
    the root through properties keys alone (a server without such annotations passes)."""
    endpoint = await transport_endpoint(client, mcp_target)
    await modern_premise(client, mcp_target, endpoint)
    message, headers = modern_request("tools/list", 2)
    listed = result(await client.post(endpoint.path, json=message, headers={**headers, **endpoint.headers}), 2)
    tools = [t for t in listed.get("tools", []) if isinstance(t, dict)]
    problems = [problem for tool in tools for problem in header_problems(tool)]
    assert not problems, "; ".join(problems)


@pytest.mark.parametrize("revision", [LATEST, MODERN])
async def test_unknown_tool_is_invalid_params(mcp_target, revision):
    """MCP-TOOLS-015 MUST: calling a tool the server does not have is JSON-RPC -32602 (Invalid params)."""
    async with service_session(mcp_target, "loan-calculator", revision) as s:
        with pytest.raises(MCPError) as raised:
            await s.call_tool("spreadapi_no_such_tool", {})
    assert raised.value.code == types.INVALID_PARAMS, raised.value


@pytest.mark.parametrize("revision", [LATEST, MODERN])
async def test_unknown_method_is_method_not_found(mcp_target, revision):
    """MCP-TOOLS-016 MUST: a method the server does not serve is -32601."""
    async with service_session(mcp_target, "loan-calculator", revision) as s:
        for method in ("spreadapi/unknown", "tools/unknown", "resources/unknown"):
            with pytest.raises(MCPError) as raised:
                await s.send_request(types.Request[Any, Any](method=method, params=None), types.EmptyResult)
            assert raised.value.code == types.METHOD_NOT_FOUND, (method, raised.value)


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_details_describe_the_definition(mcp_target, fixture_id):
    """MCP-TOOLS-017 MUST: spreadapi_get_details lists every input (type, required, range, allowed values)
    and output, and its example inputs compute."""
    service = mcp_target.fixture(fixture_id)
    async with service_session(mcp_target, fixture_id) as s:
        listing = await s.list_tools()
        details = valid_structure(
            await s.call_tool("spreadapi_get_details", {}), tool(listing, "spreadapi_get_details")
        )
        example = await s.call_tool("spreadapi_calc", {"inputs": details["exampleInputs"]})
    assert not example.is_error, tool_text(example)
    inputs = {item["name"]: item for item in details["inputs"]}
    assert list(inputs) == [spec.name for spec in service.inputs]
    for spec in service.inputs:
        item = inputs[spec.name]
        assert item["type"] == spec.type and item["required"] == spec.mandatory, item
        assert item.get("min") == spec.min and item.get("max") == spec.max, item
        assert item.get("allowedValues", []) == list(spec.allowed_values), item
    assert [o["name"] for o in details["outputs"]] == [o.name for o in service.outputs]


@pytest.mark.parametrize("revision", [LATEST, MODERN])
async def test_prompts_and_resources_are_empty(mcp_target, revision):
    """MCP-TOOLS-018 SHOULD: a tools-only server may declare prompts and resources; if it does, their lists
    answer (empty here) and reading an unknown resource is a JSON-RPC error, not a crash."""
    async with service_session(mcp_target, "loan-calculator", revision) as s:
        capabilities = s.server_capabilities
        if capabilities is None or capabilities.prompts is None or capabilities.resources is None:
            not_applicable("the server declares no prompts or resources")
        assert (await s.list_prompts()).prompts == []
        assert (await s.list_resources()).resources == []
        assert (await s.list_resource_templates()).resource_templates == []
        with pytest.raises(MCPError) as raised:
            await s.read_resource("spreadapi://no/such/resource")
        # A declared capability's methods exist: an unknown prompt is the spec's -32602, not -32601.
        with pytest.raises(MCPError) as unknown_prompt:
            await s.get_prompt("spreadapi_no_such_prompt")
    assert raised.value.code in (types.INVALID_PARAMS, -32002), raised.value
    assert unknown_prompt.value.code == types.INVALID_PARAMS, unknown_prompt.value


async def test_bridge_with_an_mcp_token(mcp_target, client):
    """MCP-TOOLS-040 MUST: the bridge, with the target's MCP token, lists its tools and computes what REST
    execute computes for the same inputs."""
    token = mcp_target.spec.mcp_tokens.get("all")
    if not token:
        not_applicable("the target file gives no MCP token named 'all'")
    fixture = mcp_target.fixture("loan-calculator")
    service_id = mcp_target.published("loan-calculator").id
    inputs = fixture.golden[0]["inputs"]
    response = await client.post(mcp_target.execute_path("loan-calculator"), json={"inputs": inputs})
    assert response.status_code == 200, said(response)
    async with target_session(mcp_target, mcp_target.path("bridge_mcp"), token, MODERN) as session:
        assert [t.name for t in (await session.list_tools()).tools] == BRIDGE_TOOLS
        result = await session.call_tool("spreadapi_calc", {"serviceId": service_id, "inputs": inputs})
    assert not result.is_error, result
    assert rest_result(result.structured_content) == rest_result(json_object(response), "the REST answer")


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
    assert rest_result(result.structured_content) == rest_result(json_object(response), "the REST answer"), inputs
