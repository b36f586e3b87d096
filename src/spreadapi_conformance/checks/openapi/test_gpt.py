"""OPENAPI-GPT: the OpenAPI documents within what a ChatGPT Action imports and calls: one server that is
this deployment, https, operationIds, summary and description lengths, the request and response sizes
(seed Option 1; the GPT Actions limits, docs/sources.md).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from ..answers import excerpt
from ..premise import control_failed, not_applicable
from ._support import (
    DOCUMENTS,
    FIXTURE_IDS,
    OPERATION_ID,
    PARAMETER_LIMIT,
    PAYLOAD_LIMIT,
    SUMMARY_LIMIT,
    calculate_of,
    document_of,
    iter_property_schemas,
    operations,
    resolve,
    server_url,
)

pytestmark = pytest.mark.conformance


LOOPBACK = ("localhost", "127.0.0.1", "::1", "testserver")


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
    """OPENAPI-GPT-002 MUST: the advertised server URL is https (ChatGPT calls Actions over TLS only);
    loopback deployments are exempt."""
    _, document = await document_of(client, target, fixture_id)
    url = server_url(document)
    if urlsplit(url).hostname in LOOPBACK:
        not_applicable(f"{url} is a loopback deployment")
    assert urlsplit(url).scheme == "https", f"the server URL {url!r} is not https"


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


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_calculate_answers_within_100k(client, target, fixture_id):
    """OPENAPI-GPT-007 MUST: calculate's answers to the golden cases are smaller than 100,000 characters."""
    for case in target.fixture(fixture_id).golden:
        response = await client.post(
            target.execute_path(fixture_id), json={"inputs": case["inputs"]}, headers=target.auth(fixture_id)
        )
        if response.status_code != 200:
            control_failed(f"{case['title']!r} is not answered with a result: {excerpt(response)}")
        assert len(response.text) < PAYLOAD_LIMIT, f"{case['title']!r}: {len(response.text)} characters"
