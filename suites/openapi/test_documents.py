"""The OpenAPI documents: valid 3.1, importable as a ChatGPT Action, typed from the service definition,
and honest about what the server answers (seed Option 1; behaviour reference 2.7, 2.8).

``GET /api/v1/services/{id}/openapi.json`` describes one service's ``calculate`` operation;
``GET /api/v1/openapi.json`` describes the whole REST API. HTTP only: these run against any target.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from spreadapi_conformance.fixtures import load_services

from ._support import (
    FIXTURE_IDS,
    OPERATION_ID,
    PARAMETER_LIMIT,
    PAYLOAD_LIMIT,
    SUMMARY_LIMIT,
    TRACEBACK,
    documented_response,
    excerpt,
    fetch_document,
    find_operation,
    inputs_schema,
    is_bearer_scheme,
    is_percentage,
    iter_property_schemas,
    json_media,
    operations,
    resolve,
    response_schema_pointer,
    schema_errors,
    security_requirements,
    service_document_path,
)

pytestmark = pytest.mark.conformance

DOCUMENTS = ("platform", *FIXTURE_IDS)
LOOPBACK = ("localhost", "127.0.0.1", "::1", "testserver")
GOLDEN = [(fid, i) for fid, service in load_services().items() for i in range(len(service.golden))]


async def document_of(client: httpx.AsyncClient, target: Any, which: str) -> tuple[httpx.Response, dict[str, Any]]:
    path = target.path("platform_openapi") if which == "platform" else service_document_path(target, which)
    return await fetch_document(client, path)


async def calculate_of(client: httpx.AsyncClient, target: Any, fixture_id: str):
    """(document, path, operation) of the service's ``calculate``."""
    _, document = await document_of(client, target, fixture_id)
    path, method, operation = find_operation(document, "calculate")
    assert method == "post", f"calculate is {method.upper()} {path}, not POST"
    return document, path, operation


def relative(template: str, base: str) -> str:
    """The target's path ``template`` as the document names it: relative to its server URL's path."""
    prefix = urlsplit(base).path.rstrip("/")
    return template.removeprefix(prefix) if prefix and template.startswith(prefix + "/") else template


def server_url(document: dict[str, Any]) -> str:
    servers = document.get("servers")
    assert isinstance(servers, list) and len(servers) == 1, f"expected exactly one servers entry, got {servers!r}"
    url = servers[0].get("url")
    assert isinstance(url, str), f"the server has no URL: {servers[0]!r}"
    return url


def server_to_call(document: dict[str, Any], target: Any) -> str:
    """The document's server URL, which the check is about to call: on the target's origin, or the check
    fails there (a document advertising another host would receive the target's credentials)."""
    return target.on_target(server_url(document), "the document's server URL").rstrip("/")


def templated(document: dict[str, Any], pattern: str, method: str) -> str:
    """The one documented path matching ``pattern`` (with ``{param}`` for a path parameter) for ``method``."""
    regex = re.compile("^" + re.escape(pattern).replace(r"\{id\}", r"\{[^/}]+\}") + "$")
    found = [p for p, m, _ in operations(document) if m == method and regex.match(p)]
    assert len(found) == 1, f"the platform document has {len(found)} {method.upper()} operations at {pattern}"
    return found[0]


def fill(path: str, service_id: str) -> str:
    return re.sub(r"\{[^/}]+\}", service_id, path)


def assert_conforms(document: dict[str, Any], path: str, method: str, response: httpx.Response) -> None:
    """The response's status is documented and its JSON body matches the documented schema."""
    assert TRACEBACK not in response.text, f"the body carries a Python traceback: {excerpt(response)}"
    operation = document["paths"][path][method]
    key = documented_response(operation, response.status_code)
    assert key is not None, (
        f"{method.upper()} {path} answered HTTP {response.status_code}, which the document does not list: "
        f"{excerpt(response)}"
    )
    errors = schema_errors(
        document, response_schema_pointer(document, path, method, response.status_code), response.json()
    )
    assert not errors, (
        f"{method.upper()} {path} HTTP {response.status_code} does not match the documented schema: {errors[:5]}; "
        f"{excerpt(response)}"
    )


# --- validity ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_service_document_validates(client, target, fixture_id):
    """OPENAPI-DOC-001 MUST: the per-service document validates as OpenAPI 3.1 (openapi-spec-validator)."""
    _, document = await document_of(client, target, fixture_id)
    validate(document, cls=OpenAPIV31SpecValidator)


async def test_platform_document_validates(client, target):
    """OPENAPI-DOC-002 MUST: the platform document (`/api/v1/openapi.json`) validates as OpenAPI 3.1."""
    _, document = await document_of(client, target, "platform")
    validate(document, cls=OpenAPIV31SpecValidator)


@pytest.mark.parametrize("which", DOCUMENTS)
async def test_openapi_version_is_3_1(client, target, which):
    """OPENAPI-DOC-003 MUST: every document declares `openapi: 3.1.x`."""
    _, document = await document_of(client, target, which)
    assert str(document.get("openapi", "")).startswith("3.1."), f"openapi is {document.get('openapi')!r}"


async def test_unknown_service_document_is_404(client, target):
    """OPENAPI-DOC-004 SHOULD: the document of a service that is not published is a 404 JSON error."""
    response = await client.get(target.path("openapi", id="no-such-service-3f9a"))
    assert response.status_code == 404, f"expected 404, got {excerpt(response)}"
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str), f"not a JSON error: {excerpt(response)}"


# --- servers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", DOCUMENTS)
async def test_one_absolute_server_url_of_this_deployment(client, target, which):
    """OPENAPI-GPT-001 MUST: exactly one `servers` entry, an absolute URL equal to the deployment's base URL
    (ChatGPT learns the host only from it; never a hard-coded host)."""
    _, document = await document_of(client, target, which)
    url = server_url(document)
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https") and parts.netloc, f"the server URL {url!r} is not absolute"
    assert url.rstrip("/") == target.base_url.rstrip("/"), (
        f"the document advertises {url!r}, the deployment is at {target.base_url!r}"
    )


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_server_url_is_https(client, target, fixture_id):
    """OPENAPI-GPT-002 SHOULD: the advertised server URL is https (ChatGPT calls Actions over TLS only);
    loopback deployments are exempt."""
    _, document = await document_of(client, target, fixture_id)
    url = server_url(document)
    if urlsplit(url).hostname in LOOPBACK:
        pytest.skip(f"{url} is a loopback deployment")
    assert urlsplit(url).scheme == "https", f"the server URL {url!r} is not https"


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_server_url_plus_calculate_path_answers(client, target, fixture_id):
    """OPENAPI-DOC-005 MUST: `servers[0].url` + the path of `calculate` is where execute answers: a golden
    case posted there gets 200."""
    document, path, _ = await calculate_of(client, target, fixture_id)
    url = server_to_call(document, target) + path
    case = target.fixture(fixture_id).golden[0]
    response = await client.post(url, json={"inputs": case["inputs"]}, headers=target.auth(fixture_id))
    assert response.status_code == 200, f"POST {url}: expected 200, got {excerpt(response)}"


# --- the calculate operation ------------------------------------------------------------------------


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


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_calculate_takes_no_header_parameters(client, target, fixture_id):
    """OPENAPI-GPT-008 MUST: calculate takes no header or cookie parameters (ChatGPT sends no custom headers;
    auth goes through the security scheme)."""
    document, path, operation = await calculate_of(client, target, fixture_id)
    parameters = [resolve(document, p) for p in (document["paths"][path].get("parameters") or [])] + [
        resolve(document, p) for p in (operation.get("parameters") or [])
    ]
    offending = [p.get("name") for p in parameters if p.get("in") in ("header", "cookie")]
    assert not offending, f"header/cookie parameters: {offending}"


# --- GPT Actions limits -----------------------------------------------------------------------------


@pytest.mark.parametrize("which", DOCUMENTS)
async def test_operation_ids_unique_and_linted(client, target, which):
    """OPENAPI-GPT-003 MUST: every operation has an operationId, all unique, each matching
    `^[a-zA-Z0-9_-]{1,64}$`."""
    _, document = await document_of(client, target, which)
    ids = [op.get("operationId") for _, _, op in operations(document)]
    assert ids, "the document has no operations"
    assert all(isinstance(i, str) for i in ids), f"operations without operationId: {ids}"
    assert len(set(ids)) == len(ids), f"duplicate operationIds: {ids}"
    assert all(OPERATION_ID.match(i) for i in ids), f"operationIds outside the lint pattern: {ids}"


@pytest.mark.parametrize("which", DOCUMENTS)
async def test_summaries_and_descriptions_within_300(client, target, which):
    """OPENAPI-GPT-004 MUST: every operation's summary and description is at most 300 characters."""
    _, document = await document_of(client, target, which)
    too_long = [
        (f"{method.upper()} {path}", key, len(op[key]))
        for path, method, op in operations(document)
        for key in ("summary", "description")
        if len(op.get(key) or "") > SUMMARY_LIMIT
    ]
    assert not too_long, f"longer than {SUMMARY_LIMIT} characters: {too_long}"


@pytest.mark.parametrize("which", DOCUMENTS)
async def test_parameter_and_property_descriptions_within_700(client, target, which):
    """OPENAPI-GPT-005 MUST: every parameter description and schema property description (the body's inputs
    become the Action's parameters) is at most 700 characters."""
    _, document = await document_of(client, target, which)
    too_long = []
    for path, method, op in operations(document):
        parameters = (document["paths"][path].get("parameters") or []) + (op.get("parameters") or [])
        for parameter in map(lambda p: resolve(document, p), parameters):
            if len(parameter.get("description") or "") > PARAMETER_LIMIT:
                too_long.append(f"{method.upper()} {path} parameter {parameter.get('name')}")
    for where, schema in iter_property_schemas(document):
        if len(str(schema.get("description") or "")) > PARAMETER_LIMIT:
            too_long.append(where)
    assert not too_long, f"descriptions longer than {PARAMETER_LIMIT} characters: {too_long}"


@pytest.mark.parametrize("which", DOCUMENTS)
async def test_document_smaller_than_100k(client, target, which):
    """OPENAPI-GPT-006 MUST: the document is smaller than 100,000 characters."""
    response, _ = await document_of(client, target, which)
    assert len(response.text) < PAYLOAD_LIMIT, f"the document has {len(response.text)} characters"


# --- honest response schemas ------------------------------------------------------------------------


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
async def test_calculate_answers_within_100k(client, target, fixture_id):
    """OPENAPI-GPT-007 MUST: calculate's answers to the golden cases are smaller than 100,000 characters."""
    for case in target.fixture(fixture_id).golden:
        response = await client.post(
            target.execute_path(fixture_id), json={"inputs": case["inputs"]}, headers=target.auth(fixture_id)
        )
        assert len(response.text) < PAYLOAD_LIMIT, f"{case['title']!r}: {len(response.text)} characters"


def _invalid_value(spec: Any) -> Any:
    if spec.allowed_values:
        return "not-one-of-the-allowed-values"
    if spec.type in ("number", "integer"):
        return "not a number"
    if spec.type == "boolean":
        return "perhaps"
    return None


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
