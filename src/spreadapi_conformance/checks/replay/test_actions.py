"""REPLAY-ACTIONS: ChatGPT Actions (Option 1) replayed. A GPT builder imports the service's OpenAPI
document, then the model calls ``calculate`` the way an Action does.

The import is all or nothing, so it is checked as the importer sees it, in one go: a JSON document of
OpenAPI 3.0 or 3.1 under 100,000 characters, exactly one server whose URL is absolute and https (loopback
and the in-process test host excepted), every operation with a unique operationId, summaries and
descriptions within 300 characters and parameter descriptions within 700, no header or cookie
parameters (Actions send no custom headers), security schemes of kinds an Action can be configured with,
and one ``calculate`` operation, a POST with a JSON body holding ``inputs``. The call then goes to
``servers[0].url`` + calculate's path with the JSON body ``{"inputs": …}`` and, when the document
requires a bearer scheme, ``Authorization: Bearer`` with the service token (the Action's "API key,
Bearer" setting); the answer must come within the Actions time limit (45 s), under 100,000 characters,
with outputs equal to the oracle's.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from spreadapi_conformance.oracle import differences, expected_outputs

from ..answers import json_object, json_value, named_values
from ..openapi._support import (
    FIXTURE_IDS,
    OPERATION_ID,
    PARAMETER_LIMIT,
    PAYLOAD_LIMIT,
    SUMMARY_LIMIT,
    inputs_schema,
    is_bearer_scheme,
    iter_property_schemas,
    operations,
    resolve,
    security_requirements,
)

if TYPE_CHECKING:
    from ..target import Target


pytestmark = pytest.mark.conformance


ACTION_TIMEOUT = 45.0  # s: an Action's round trip


LOOPBACK = {"localhost", "127.0.0.1", "::1"}


# What an Action's authentication settings can express: none, API key (basic, bearer or a custom header), OAuth.
ACTION_SCHEMES = {("http", "bearer"), ("http", "basic"), ("apiKey", None), ("oauth2", None)}


def excerpt(response: httpx.Response, size: int = 300) -> str:
    return f"HTTP {response.status_code} {response.headers.get('content-type', '')!r} body={response.text[:size]!r}"


def import_problems(target: Target, response: httpx.Response) -> tuple[list[str], dict[str, Any] | None]:
    """What stops the document from importing as an Action (empty when it imports), and the document."""
    if response.status_code != 200:
        return [f"the document is not served: {excerpt(response)}"], None
    try:
        document = json_value(response)
    except AssertionError:
        return [f"the document is not JSON: {excerpt(response)}"], None
    if not isinstance(document, dict):
        return ["the document is not a JSON object"], None
    problems = []
    if not str(document.get("openapi", "")).startswith(("3.0.", "3.1.")):
        problems.append(f"openapi is {document.get('openapi')!r}, not 3.0.x or 3.1.x")
    if len(response.text) >= PAYLOAD_LIMIT:
        problems.append(f"the document has {len(response.text)} characters (limit {PAYLOAD_LIMIT})")
    servers = document.get("servers") or []
    if len(servers) != 1 or not isinstance(servers[0], dict):
        problems.append(f"expected exactly one server, found {len(servers)}")
    else:
        url = urlsplit(str(servers[0].get("url", "")))
        local = url.hostname in LOOPBACK or (target.spec.in_process and url.hostname == "testserver")
        if not url.netloc or (url.scheme != "https" and not (url.scheme == "http" and local)):
            problems.append(f"the server URL {servers[0].get('url')!r} is not an absolute https URL")
    ids = []
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        ids.append(operation.get("operationId"))
        if not isinstance(operation.get("operationId"), str) or not OPERATION_ID.match(operation["operationId"]):
            problems.append(f"{where}: operationId {operation.get('operationId')!r} is missing or unusable")
        for key in ("summary", "description"):
            if len(str(operation.get(key) or "")) > SUMMARY_LIMIT:
                problems.append(f"{where}: {key} longer than {SUMMARY_LIMIT} characters")
        parameters = (document["paths"][path].get("parameters") or []) + (operation.get("parameters") or [])
        for parameter in (resolve(document, p) for p in parameters):
            if parameter.get("in") in ("header", "cookie"):
                problems.append(f"{where}: {parameter.get('in')} parameter {parameter.get('name')!r} is never sent")
            if len(str(parameter.get("description") or "")) > PARAMETER_LIMIT:
                problems.append(f"{where}: parameter {parameter.get('name')!r} description over {PARAMETER_LIMIT}")
    for location, schema in iter_property_schemas(document):
        if len(str(schema.get("description") or "")) > PARAMETER_LIMIT:
            problems.append(f"{location}: description longer than {PARAMETER_LIMIT} characters")
    if len(set(map(str, ids))) != len(ids):
        problems.append(f"operationIds are not unique: {ids}")
    for name, scheme in ((document.get("components") or {}).get("securitySchemes") or {}).items():
        scheme = resolve(document, scheme)
        kind = (scheme.get("type"), str(scheme.get("scheme", "")).lower() if scheme.get("type") == "http" else None)
        if kind not in ACTION_SCHEMES:
            problems.append(f"security scheme {name!r} ({kind}) cannot be configured in an Action")
    calculate = [(p, m, op) for p, m, op in operations(document) if op.get("operationId") == "calculate"]
    if len(calculate) != 1:
        problems.append(f"expected one operation calculate, found {len(calculate)}")
    else:
        _, method, operation = calculate[0]
        if method != "post":
            problems.append(f"calculate is {method.upper()}, not POST")
        try:
            schema, _ = inputs_schema(document, operation)
        except AssertionError as exc:
            problems.append(str(exc))
        else:
            if "inputs" not in (schema.get("properties") or {}):
                problems.append("calculate's JSON body has no inputs property")
    return problems, document


async def imported(client: httpx.AsyncClient, target: Target, fixture_id: str) -> dict[str, Any]:
    response = await client.get(target.path("openapi", fixture=fixture_id))
    problems, document = import_problems(target, response)
    assert not problems, "the Action would not import: " + "; ".join(problems)
    assert document is not None
    return document


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_document_imports_as_an_action(client, target, fixture_id):
    """REPLAY-ACTIONS-001 MUST: the service's OpenAPI document imports under the Actions constraints: one
    https (or loopback) server, unique operationIds, one calculate POST with inputs, the length limits."""
    await imported(client, target, fixture_id)


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_calculate_as_an_action_equals_the_oracle(client, target, fixture_id):
    """REPLAY-ACTIONS-002 MUST: calculate called as an Action (server URL + path, JSON inputs, the bearer
    token the document asks for) answers every golden case within 45 s and 100,000 characters, with the
    oracle's outputs."""
    document = await imported(client, target, fixture_id)
    path, _, operation = next((p, m, op) for p, m, op in operations(document) if op.get("operationId") == "calculate")
    server = target.on_target(document["servers"][0]["url"], "the document's server URL, which the Action calls,")
    url = server.rstrip("/") + path
    requirements = security_requirements(document, operation)
    headers = {"Content-Type": "application/json"}
    if requirements and all(requirements):  # the Action is configured with the API key it asks for
        assert any(any(is_bearer_scheme(document, name) for name in req) for req in requirements), (
            f"calculate asks for {requirements!r}, not a bearer token the service token could fill"
        )
        headers.update(target.auth(fixture_id) or {})
        assert "Authorization" in headers, "the document asks for a token, the target file has none for it"
    failures = []
    for case in target.fixture(fixture_id).golden:
        started = time.monotonic()
        response = await client.post(url, json={"inputs": case["inputs"]}, headers=headers)
        took = time.monotonic() - started
        if response.status_code != 200:
            failures.append(f"{case['title']}: {excerpt(response)}")
            continue
        if took > ACTION_TIMEOUT or len(response.text) >= PAYLOAD_LIMIT:
            failures.append(f"{case['title']}: {took:.1f} s, {len(response.text)} characters")
        try:
            outputs = named_values(json_object(response), "outputs", "the answer")
        except AssertionError as exc:
            failures.append(f"{case['title']}: {exc}")
            continue
        if diff := differences(outputs, expected_outputs(fixture_id, case["cells"])):
            failures.append(f"{case['title']}: outputs differ {{name: (server, oracle)}}: {diff}")
    assert not failures, "; ".join(failures)
