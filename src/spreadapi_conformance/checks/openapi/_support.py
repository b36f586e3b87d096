"""Helpers for the OpenAPI checks: fetching the documents over HTTP and reading them.

HTTP only (no import of the reference), so the conformance checks built on these run against any
target. Schemas are checked with JSON Schema 2020-12 (the OpenAPI 3.1 dialect) with the whole
document registered as one resource, so ``$ref: "#/components/..."`` resolves as it does for a client.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from spreadapi_conformance.fixtures import InputDef, load_services

from ..answers import json_value

if TYPE_CHECKING:
    from ..target import Target


FIXTURE_IDS = tuple(load_services())
DOCUMENTS = ("platform", *FIXTURE_IDS)  # what document_of takes: the platform document, or a fixture id
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
TRACEBACK = "Traceback (most recent call last)"

# GPT Actions limits (mcp-oauth-requirements.md, section 3). The operationId pattern is the
# function-calling name rule, a safe lint rather than a documented Actions rule.
SUMMARY_LIMIT = 300
PARAMETER_LIMIT = 700
PAYLOAD_LIMIT = 100_000
OPERATION_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

_DOCUMENT_URI = "urn:spreadapi-conformance:openapi-document"


def service_document_path(target: Target, fixture_id: str) -> str:
    return target.path("openapi", fixture=fixture_id)


def excerpt(response: httpx.Response, size: int = 400) -> str:
    return f"HTTP {response.status_code} {response.headers.get('content-type', '')!r} body={response.text[:size]!r}"


async def fetch_document(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, dict[str, Any]]:
    """The document served at ``path``: 200, JSON, an object (else the assertion says what came)."""
    response = await client.get(path)
    assert response.status_code == 200, f"GET {path}: expected 200, got {excerpt(response)}"
    assert response.headers.get("content-type", "").startswith("application/json"), (
        f"GET {path}: the document is not served as JSON: {excerpt(response)}"
    )
    document = json_value(response)
    assert isinstance(document, dict), f"GET {path}: the document is not a JSON object: {excerpt(response)}"
    return response, document


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation object) for every operation of the document (an AssertionError when its
    paths are not an object of path items)."""
    paths = document.get("paths") or {}
    assert isinstance(paths, dict), f"the document's paths are {type(paths).__name__}, not an object"
    for path, item in paths.items():
        for method in HTTP_METHODS:
            if isinstance(item, dict) and isinstance(item.get(method), dict):
                yield path, method, item[method]


def find_operation(document: dict[str, Any], operation_id: str) -> tuple[str, str, dict[str, Any]]:
    found = [(p, m, op) for p, m, op in operations(document) if op.get("operationId") == operation_id]
    assert len(found) == 1, f"expected exactly one operation {operation_id!r}, found {len(found)}"
    return found[0]


def resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow local ``$ref``s (``#/...``) until a node that is not a reference."""
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local references are supported here, got {ref!r}"
        assert ref not in seen, f"reference cycle at {ref!r}"
        seen.add(ref)
        node = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def pointer(*parts: str | int) -> str:
    """A JSON pointer fragment (``#/a/b~1c``) to the given path of keys."""
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def json_media(content: dict[str, Any]) -> str | None:
    """The JSON media type key of a ``content`` map, if any."""
    return next((media for media in content if media.split(";")[0].strip() in ("application/json",)), None)


def documented_response(operation: dict[str, Any], status: int) -> str | None:
    """The key of the operation's response that documents ``status`` (exact, range like 4XX, or default)."""
    responses = operation.get("responses") or {}
    for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
        if key in responses:
            return key
    return None


def response_schema_pointer(document: dict[str, Any], path: str, method: str, status: int) -> str:
    """Pointer to the JSON schema documented for ``status`` of the operation (assertion if there is none)."""
    operation = document["paths"][path][method]
    key = documented_response(operation, status)
    assert key is not None, f"{method.upper()} {path} documents no response for HTTP {status}"
    response = resolve(document, operation["responses"][key])
    content = response.get("content") or {}
    media = json_media(content)
    assert media is not None, f"{method.upper()} {path} HTTP {key} documents no application/json body"
    assert "schema" in content[media], f"{method.upper()} {path} HTTP {key} documents no schema"
    return pointer("paths", path, method, "responses", key, "content", media, "schema")


def schema_errors(document: dict[str, Any], schema_pointer: str, instance: Any) -> list[str]:
    """Why ``instance`` does not match the schema at ``schema_pointer`` (empty when it matches)."""
    resource = Resource(contents=document, specification=DRAFT202012)
    registry = Registry().with_resource(_DOCUMENT_URI, resource)
    validator = Draft202012Validator(
        {"$ref": _DOCUMENT_URI + schema_pointer},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    ]


def security_requirements(document: dict[str, Any], operation: dict[str, Any]) -> list[dict[str, Any]]:
    """The operation's effective security requirements (its own, else the document's)."""
    if "security" in operation:
        return list(operation["security"] or [])
    return list(document.get("security") or [])


def is_bearer_scheme(document: dict[str, Any], name: str) -> bool:
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    scheme = resolve(document, schemes.get(name) or {})
    return scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer"


def iter_property_schemas(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, schema) of every property schema anywhere in a document."""
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            for name, schema in properties.items():
                if isinstance(schema, dict):
                    yield f"{where}/properties/{name}", schema
        for key, value in node.items():
            yield from iter_property_schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from iter_property_schemas(value, f"{where}/{index}")


def is_percentage(spec: InputDef) -> bool:
    """Behaviour reference 1.11 (3a): where 5 and "5%" also mean 0.05, so a schema may allow max*100."""
    decimal_bounds = spec.min is not None and spec.max is not None and spec.min >= 0 and spec.max <= 1
    return spec.format == "percentage" or "%" in (spec.format_string or "") or decimal_bounds


def inputs_schema(document: dict[str, Any], operation: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(request body schema, schema of its ``inputs`` object), references resolved."""
    body = resolve(document, operation.get("requestBody") or {})
    content = body.get("content") or {}
    media = json_media(content)
    assert media is not None, "calculate documents no application/json request body"
    schema = resolve(document, content[media].get("schema") or {})
    inputs = resolve(document, (schema.get("properties") or {}).get("inputs") or {})
    return schema, inputs


async def document_of(client: httpx.AsyncClient, target: Target, which: str) -> tuple[httpx.Response, dict[str, Any]]:
    path = target.path("platform_openapi") if which == "platform" else service_document_path(target, which)
    return await fetch_document(client, path)


async def calculate_of(client: httpx.AsyncClient, target: Target, fixture_id: str):
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


def server_to_call(document: dict[str, Any], target: Target) -> str:
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
        document, response_schema_pointer(document, path, method, response.status_code), json_value(response)
    )
    assert not errors, (
        f"{method.upper()} {path} HTTP {response.status_code} does not match the documented schema: {errors[:5]}; "
        f"{excerpt(response)}"
    )
