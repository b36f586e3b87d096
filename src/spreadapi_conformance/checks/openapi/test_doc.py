"""OPENAPI-DOC: the OpenAPI documents are valid 3.1, typed from the service definition, and honest about
what the server answers (seed Option 1; behaviour 2.7, 2.8).

``GET {openapi}`` (``/api/v1/services/{id}/openapi.json``) describes one service's ``calculate`` operation;
``GET {platform_openapi}`` (``/api/v1/openapi.json``) the whole REST API.

Bodies at the edge of JSON (OPENAPI-DOC-016): the per-service document types an unbounded input as
``number`` and a text input as ``string``, so a number literal beyond the double range and a string holding
a lone UTF-16 surrogate escape are schema-valid requests, and ``NaN`` and ``Infinity`` are not JSON at all.
Each must get a documented status (200 or 400), not a crash.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from spreadapi_conformance.fixtures import load_services

from ..answers import json_value
from ._support import (
    DOCUMENTS,
    FIXTURE_IDS,
    assert_conforms,
    calculate_of,
    document_of,
    documented_response,
    excerpt,
    fetch_document,
    fill,
    find_operation,
    inputs_schema,
    is_bearer_scheme,
    is_percentage,
    json_media,
    relative,
    resolve,
    security_requirements,
    server_to_call,
    service_document_path,
    templated,
)

pytestmark = pytest.mark.conformance


GOLDEN = [(fid, i) for fid, service in load_services().items() for i in range(len(service.golden))]


def _invalid_value(spec: Any) -> Any:
    if spec.allowed_values:
        return "not-one-of-the-allowed-values"
    if spec.type in ("number", "integer"):
        return "not a number"
    if spec.type == "boolean":
        return "perhaps"
    return None


EDGE = "edge-cases"  # public; numerator/denominator unbounded numbers, name a string, exponent 0..308


QUOTE = "quote"  # private: the body's `token` is read before anything else


BODIES = {
    # schema-valid per the document (type: number, no bounds): must be answered, 200 or 400
    "number-beyond-double-range": (EDGE, '{"inputs": {"numerator": 1e400, "denominator": 1}}'),
    "integer-of-400-digits": (EDGE, '{"inputs": {"numerator": ' + "9" * 400 + ', "denominator": 1}}'),
    # above the documented maximum of exponent (308): a 400
    "huge-integer-above-maximum": (
        EDGE,
        '{"inputs": {"numerator": 1, "denominator": 1, "exponent": 1' + "0" * 400 + "}}",
    ),
    # not JSON (Python's json module accepts them): a 400
    "nan-literal": (EDGE, '{"inputs": {"numerator": NaN, "denominator": 1}}'),
    "infinity-literal": (EDGE, '{"inputs": {"numerator": -Infinity, "denominator": 1}}'),
    # a string with a lone surrogate: as the name (echoed in the 200) and in a 400 that echoes the inputs
    "lone-surrogate-in-string-input": (EDGE, '{"inputs": {"numerator": 1, "denominator": 2, "name": "a\\ud800b"}}'),
    "lone-surrogate-in-echoed-error": (EDGE, '{"inputs": {"numerator": "\\udfff"}}'),
    # ... and as the token of a private service: a 401
    "lone-surrogate-in-body-token": (QUOTE, '{"inputs": {"product": "widget", "quantity": 1}, "token": "x\\ud800"}'),
}


def valid_openapi_31(document: dict[str, Any]) -> None:
    """openapi-spec-validator's verdict, as an AssertionError naming the first problem."""
    errors = list(OpenAPIV31SpecValidator(document).iter_errors())
    assert not errors, f"not valid OpenAPI 3.1 ({len(errors)} problems), first: {str(errors[0]).splitlines()[0][:300]}"


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_service_document_validates(client, target, fixture_id):
    """OPENAPI-DOC-001 MUST: the per-service document validates as OpenAPI 3.1 (openapi-spec-validator)."""
    _, document = await document_of(client, target, fixture_id)
    valid_openapi_31(document)


async def test_platform_document_validates(client, target):
    """OPENAPI-DOC-002 MUST: the platform document (`/api/v1/openapi.json`) validates as OpenAPI 3.1."""
    _, document = await document_of(client, target, "platform")
    valid_openapi_31(document)


@pytest.mark.parametrize("which", DOCUMENTS)
async def test_openapi_version_is_3_1(client, target, which):
    """OPENAPI-DOC-003 MUST: every document declares `openapi: 3.1.x`."""
    _, document = await document_of(client, target, which)
    assert str(document.get("openapi", "")).startswith("3.1."), f"openapi is {document.get('openapi')!r}"


async def test_unknown_service_document_is_404(client, target):
    """OPENAPI-DOC-004 SHOULD: the document of a service that is not published is a 404 JSON error."""
    response = await client.get(target.path("openapi", id="no-such-service-3f9a"))
    assert response.status_code == 404, f"expected 404, got {excerpt(response)}"
    body = json_value(response)
    assert isinstance(body, dict) and isinstance(body.get("error"), str), f"not a JSON error: {excerpt(response)}"


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_server_url_plus_calculate_path_answers(client, target, fixture_id):
    """OPENAPI-DOC-005 MUST: `servers[0].url` + the path of `calculate` is where execute answers: a golden
    case posted there gets 200."""
    document, path, _ = await calculate_of(client, target, fixture_id)
    url = server_to_call(document, target) + path
    case = target.fixture(fixture_id).golden[0]
    response = await client.post(url, json={"inputs": case["inputs"]}, headers=target.auth(fixture_id))
    assert response.status_code == 200, f"POST {url}: expected 200, got {excerpt(response)}"


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_calculate_operation(client, target, fixture_id):
    """OPENAPI-DOC-006 MUST: `operationId: calculate` is POST on the service's execute path, with a required
    JSON body whose `inputs` object is required."""
    document, path, operation = await calculate_of(client, target, fixture_id)
    assert path == target.execute_path(fixture_id), f"calculate is at {path}, not {target.execute_path(fixture_id)}"
    body = resolve(document, operation.get("requestBody") or {})
    assert body.get("required") is True, "the request body of calculate is not required"
    schema, inputs = inputs_schema(document, operation)
    assert "inputs" in (schema.get("required") or []), f"`inputs` is not required: {schema!r}"
    assert inputs.get("type") == "object", f"`inputs` is not an object schema: {inputs!r}"


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_inputs_required_are_the_mandatory_inputs(client, target, fixture_id):
    """OPENAPI-DOC-007 MUST: the `inputs` schema requires exactly the service's mandatory inputs."""
    document, _, operation = await calculate_of(client, target, fixture_id)
    _, inputs = inputs_schema(document, operation)
    mandatory = {spec.name for spec in target.fixture(fixture_id).inputs if spec.mandatory}
    assert set(inputs.get("required") or []) == mandatory


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_inputs_properties_are_typed_from_the_definition(client, target, fixture_id):
    """OPENAPI-DOC-008 MUST: one property per input, typed as defined (number, integer, string, boolean);
    `null` may be added, and a percentage may also be a string ("5%")."""
    document, _, operation = await calculate_of(client, target, fixture_id)
    _, inputs = inputs_schema(document, operation)
    properties = {name: resolve(document, s) for name, s in (inputs.get("properties") or {}).items()}
    definition = target.fixture(fixture_id).inputs
    assert set(properties) == {spec.name for spec in definition}
    for spec in definition:
        declared = properties[spec.name].get("type")
        types = {declared} if isinstance(declared, str) else set(declared or ())
        # the definition's types are JSON Schema's: number, integer, string, boolean
        allowed = {spec.type, "null"} | ({"string"} if is_percentage(spec) else set())
        assert spec.type in types and types <= allowed, (
            f"input {spec.name!r} is {spec.type}, the schema says type {declared!r}"
        )


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_inputs_properties_carry_bounds_enum_and_default(client, target, fixture_id):
    """OPENAPI-DOC-009 MUST: `minimum`/`maximum`, `enum` and `default` match the definition. A percentage
    input's `maximum` may be max*100, because 5 also means 5% (behaviour reference 1.11, 3a)."""
    document, _, operation = await calculate_of(client, target, fixture_id)
    _, inputs = inputs_schema(document, operation)
    for spec in target.fixture(fixture_id).inputs:
        schema = resolve(document, inputs["properties"][spec.name])
        where = f"input {spec.name!r}"
        if spec.min is not None:
            assert schema.get("minimum") == spec.min, f"{where}: minimum {schema.get('minimum')!r} != {spec.min!r}"
        if spec.max is not None:
            maxima = (spec.max, spec.max * 100) if is_percentage(spec) else (spec.max,)
            assert schema.get("maximum") in maxima, f"{where}: maximum {schema.get('maximum')!r} not in {maxima}"
        if spec.allowed_values:
            enum = schema.get("enum") or []
            assert sorted(map(json.dumps, enum)) == sorted(map(json.dumps, spec.allowed_values)), (
                f"{where}: enum {enum!r} != allowed values {list(spec.allowed_values)!r}"
            )
        if spec.default is not None:
            assert schema.get("default") == spec.default, f"{where}: default {schema.get('default')!r}"


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_security_follows_visibility(client, target, fixture_id):
    """OPENAPI-DOC-010 MUST: a private service requires http bearer auth (no anonymous alternative) and
    documents 401; a public service requires none."""
    document, _, operation = await calculate_of(client, target, fixture_id)
    requirements = security_requirements(document, operation)
    if target.published(fixture_id).public:
        assert all(not requirement for requirement in requirements), f"a public service requires {requirements!r}"
        return
    assert requirements, "a private service documents no security requirement"
    assert all(requirement for requirement in requirements), f"anonymous access is allowed: {requirements!r}"
    assert any(any(is_bearer_scheme(document, name) for name in req) for req in requirements), (
        f"no http bearer scheme among {requirements!r}"
    )
    assert "401" in (operation.get("responses") or {}), "a private service's calculate documents no 401"


@pytest.mark.parametrize("param", GOLDEN, ids=lambda p: f"{p[0]}-{p[1]}")
async def test_golden_success_bodies_match_the_200_schema(client, target, param):
    """OPENAPI-DOC-011 MUST: the body of every golden case's 200 matches calculate's documented 200 schema
    (JSON Schema 2020-12, the document's components resolvable)."""
    fixture_id, index = param
    document, path, _ = await calculate_of(client, target, fixture_id)
    case = target.fixture(fixture_id).golden[index]
    response = await client.post(path, json={"inputs": case["inputs"]}, headers=target.auth(fixture_id))
    assert response.status_code == 200, f"golden case {case['title']!r}: {excerpt(response)}"
    assert_conforms(document, path, "post", response)


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_400_bodies_match_the_400_schema(client, target, fixture_id):
    """OPENAPI-DOC-012 MUST: 400 answers (missing inputs, an invalid value) match calculate's documented 400
    schema."""
    document, path, _ = await calculate_of(client, target, fixture_id)
    auth = target.auth(fixture_id)
    missing = await client.post(path, json={"inputs": {}}, headers=auth)
    assert missing.status_code == 400, f"no inputs: expected 400, got {excerpt(missing)}"
    assert_conforms(document, path, "post", missing)
    service = target.fixture(fixture_id)
    spec = next(s for s in service.inputs if _invalid_value(s) is not None)
    inputs = {**service.golden[0]["inputs"], spec.name: _invalid_value(spec)}
    invalid = await client.post(path, json={"inputs": inputs}, headers=auth)
    assert invalid.status_code == 400, f"{spec.name}={inputs[spec.name]!r}: expected 400, got {excerpt(invalid)}"
    assert_conforms(document, path, "post", invalid)


@pytest.mark.parametrize("fixture_id", [s.id for s in load_services().values() if not s.public])
async def test_401_bodies_match_the_401_schema(client, target, fixture_id):
    """OPENAPI-DOC-013 MUST: a private service's 401 answers (no token, a wrong token) match calculate's
    documented 401 schema."""
    document, path, _ = await calculate_of(client, target, fixture_id)
    inputs = {"inputs": target.fixture(fixture_id).golden[0]["inputs"]}
    for headers in ({}, {"Authorization": "Bearer svc_tk_" + "0" * 64}):
        response = await client.post(path, json=inputs, headers=headers)
        assert response.status_code == 401, f"headers {list(headers)}: expected 401, got {excerpt(response)}"
        assert_conforms(document, path, "post", response)


async def test_platform_listing_and_details_match_their_schemas(client, target):
    """OPENAPI-DOC-014 MUST: the platform document's schemas describe the listing, a service's details and
    the 404 of an unknown service."""
    _, document = await document_of(client, target, "platform")
    base = server_to_call(document, target)
    listing_path = templated(document, relative(target.template("services"), base), "get")
    listing = await client.get(base + listing_path)
    assert listing.status_code == 200, excerpt(listing)
    assert_conforms(document, listing_path, "get", listing)
    details_path = templated(document, relative(target.template("details"), base), "get")
    for fixture_id in FIXTURE_IDS:
        service_id = target.spec.services[fixture_id].id if fixture_id in target.spec.services else None
        if service_id is None:
            continue
        details = await client.get(base + fill(details_path, service_id))
        assert details.status_code == 200, excerpt(details)
        assert_conforms(document, details_path, "get", details)
    unknown = await client.get(base + fill(details_path, "no-such-service-3f9a"))
    assert unknown.status_code == 404, excerpt(unknown)
    assert_conforms(document, details_path, "get", unknown)


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_platform_execute_matches_its_schemas(client, target, fixture_id):
    """OPENAPI-DOC-015 MUST: execute through the platform document's templated path answers a golden case
    with a body matching its 200 schema, by POST and by GET; GET `_format=csv` is a documented media type."""
    _, document = await document_of(client, target, "platform")
    base = server_to_call(document, target)
    service_id = target.published(fixture_id).id
    auth = target.auth(fixture_id)
    inputs = target.fixture(fixture_id).golden[0]["inputs"]
    post_path = templated(document, relative(target.template("execute"), base), "post")
    response = await client.post(base + fill(post_path, service_id), json={"inputs": inputs}, headers=auth)
    assert response.status_code == 200, excerpt(response)
    assert_conforms(document, post_path, "post", response)
    get_path = templated(document, relative(target.template("execute"), base), "get")
    query = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in inputs.items()}
    response = await client.get(base + fill(get_path, service_id), params=query, headers=auth)
    assert response.status_code == 200, excerpt(response)
    assert_conforms(document, get_path, "get", response)
    csv = await client.get(base + fill(get_path, service_id), params={**query, "_format": "csv"}, headers=auth)
    assert csv.status_code == 200, excerpt(csv)
    documented = resolve(document, document["paths"][get_path]["get"]["responses"]["200"]).get("content") or {}
    media = csv.headers.get("content-type", "").split(";")[0].strip()
    assert media in documented, f"GET _format=csv answered {media!r}; documented: {sorted(documented)}"
    assert json_media(documented), "GET execute documents no JSON body"


@pytest.mark.parametrize("name", list(BODIES))
async def test_edge_of_json_bodies_get_a_documented_answer(client, target, name):
    """OPENAPI-DOC-016 MUST: numbers beyond the double range, NaN/Infinity literals and lone surrogates in
    a JSON body get a documented 200, 400 or (private service) 401 with a JSON body, never a 5xx."""
    fixture_id, body = BODIES[name]
    _, document = await fetch_document(client, service_document_path(target, fixture_id))
    path, method, operation = find_operation(document, "calculate")
    response = await client.request(
        method.upper(), path, content=body.encode("ascii"), headers={"Content-Type": "application/json"}
    )
    assert response.status_code < 500, f"{name}: {excerpt(response)}"
    # The private service may refuse the token (401) or the body it came in (400); either is documented.
    expected = (400, 401) if fixture_id == QUOTE else (200, 400)
    assert response.status_code in expected, f"{name}: expected {expected}, got {excerpt(response)}"
    assert documented_response(operation, response.status_code), f"{name}: undocumented {excerpt(response)}"
    assert "Traceback (most recent call last)" not in response.text, f"{name}: {excerpt(response)}"
    json_value(response)  # a JSON body, whichever of the two
