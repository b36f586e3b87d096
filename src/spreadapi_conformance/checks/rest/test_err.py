"""REST-ERR: bad requests get clear JSON errors, never a crash (behaviour 1.11, 2.1, 2.2, with this kit's
deviations: malformed JSON is 400 not 500, unknown routes are JSON 404, bodies over 1,000,000 bytes are 413).

REST-ERR-040 is a property over generated invalid inputs: hypothesis drives a sync check, each example one
request on a fresh client and event loop, so nothing is shared between examples but the server itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spreadapi_conformance.strategies import invalid_inputs

from ..premise import control_failed
from ._support import (
    FIXTURE_IDS,
    LOAN,
    NOT_FOUND_BODY,
    TRACEBACK,
    body_bytes,
    error_json,
    excerpt,
    json_body,
    open_client,
    post_inputs,
)

if TYPE_CHECKING:
    from ..target import Target


pytestmark = pytest.mark.conformance


JSON = {"Content-Type": "application/json"}


MAX_BODY = 1_000_000


UNKNOWN = "no-such-service-4f1c"


async def post_raw(client: httpx.AsyncClient, target: Target, content: Any, fixture_id: str = "loan-calculator"):
    return await client.post(target.execute_path(fixture_id), content=content, headers=JSON)


def validation_error(response: httpx.Response, name: str, kind: str) -> None:
    body = error_json(response, 400)
    assert body["error"] == "Parameter validation failed", excerpt(response)
    errors = (body.get("details") or {}).get("errors") or []
    assert any(e.get("name") == name and e.get("type") == kind for e in errors), (
        f"no {kind} for {name}: {excerpt(response)}"
    )


UNKNOWN_ROUTES = {
    "beyond execute": lambda target: target.execute_path("loan-calculator") + "/more",
    "beside the listing": lambda target: target.path("services") + "-nothing",
    "another API version": lambda target: "/no-such-api/v9/services",
    "top level": lambda target: "/nope",
}


@pytest.mark.parametrize(
    "content",
    [
        b'{"inputs": {"principal": 1',
        b"principal=250000&rate=5",
        b"",
        b"{'inputs': {}}",
        b'{"inputs": {}}}',
        b"\xff\xfe\x00",
    ],
    ids=["truncated", "form-encoded", "empty", "single-quotes", "trailing-brace", "not-utf8"],
)
async def test_malformed_json(client, target, content):
    """REST-ERR-001 MUST: a body that is not JSON is 400 with a JSON error, never 500 (deviation from 2.1 step 1)."""
    error_json(await post_raw(client, target, content), 400)


@pytest.mark.parametrize("content", [b"[1, 2]", b'"inputs"', b"42", b"null", b"true"])
async def test_body_not_an_object(client, target, content):
    """REST-ERR-002 MUST: a JSON body that is not an object is 400 (2.1)."""
    error_json(await post_raw(client, target, content), 400)


@pytest.mark.parametrize(
    "payload",
    [{}, {"inputs": None}, {"inputs": [250000, 5, 30]}, {"inputs": "principal=250000"}, {"inputs": 5}, {"input": LOAN}],
    ids=["missing", "null", "array", "string", "number", "misspelt"],
)
async def test_inputs_not_an_object(client, target, payload):
    """REST-ERR-003 MUST: `inputs` missing or not an object is 400 INVALID_REQUEST (2.1 step 2; arrays too)."""
    response = await post_raw(client, target, body_bytes(payload))
    assert error_json(response, 400)["error"] == "INVALID_REQUEST", excerpt(response)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_non_standard_json_constants(client, target, literal):
    """REST-ERR-004 MUST: NaN/Infinity literals (not JSON, RFC 8259) are 400, not 500."""
    content = b'{"inputs": {"principal": %s, "rate": 5, "years": 30}}' % literal.encode()
    error_json(await post_raw(client, target, content), 400)


@pytest.mark.parametrize(
    ("fixture_id", "name", "number"),
    [
        ("loan-calculator", "principal", "1e400"),
        ("loan-calculator", "principal", "-1e400"),
        ("loan-calculator", "years", "1e400"),
        ("loan-calculator", "frequency", "1e400"),
        ("quote", "express", "1e400"),
        ("edge-cases", "numerator", "-1e400"),
        ("edge-cases", "name", "1e400"),
    ],
)
async def test_overflowing_number(client, target, fixture_id, name, number):
    """REST-ERR-005 MUST: a JSON number beyond the double range (1e400) is an answer below 500, never a crash."""
    base = {
        "loan-calculator": '"principal": 250000, "rate": 5, "years": 30',
        "quote": '"product": "widget", "quantity": 1',
        "edge-cases": '"numerator": 1, "denominator": 3',
    }[fixture_id]
    content = ("{" + f'"inputs": {{{base}, "{name}": {number}}}' + "}").encode()
    response = await client.post(
        target.execute_path(fixture_id), content=content, headers={**JSON, **target.auth(fixture_id)}
    )
    assert response.status_code < 500, f"{name}={number}: {excerpt(response)}"
    if response.status_code >= 400:
        error_json(response, response.status_code)


@pytest.mark.parametrize("depth", [1_000, 100_000])
async def test_deeply_nested_json(client, target, depth):
    """REST-ERR-006 MUST: deeply nested (valid) JSON is answered below 500, never a crash."""
    content = b'{"inputs": {"principal": 250000, "rate": 5, "years": 30, "x": ' + b"[" * depth + b"]" * depth + b"}}"
    response = await post_raw(client, target, content)
    assert response.status_code < 500, f"nesting depth {depth}: {excerpt(response)}"
    if response.status_code >= 400:
        error_json(response, response.status_code)


@pytest.mark.parametrize("rate", ["1.2.3%", ".%", "..%", "-.%", "%", "5%%", "5 %"])
async def test_malformed_percentage(client, target, rate):
    """REST-ERR-007 MUST: a malformed percent string for a percentage input is a type_mismatch 400 (1.11 3a-b:
    JavaScript Number("1.2.3") is NaN)."""
    response = await client.post(target.execute_path("loan-calculator"), json={"inputs": {**LOAN, "rate": rate}})
    validation_error(response, "rate", "type_mismatch")


async def test_oversized_body(client, target):
    """REST-ERR-008 MUST: a request body over 1,000,000 bytes is 413."""
    payload = body_bytes({"inputs": {**LOAN, "padding": "x" * MAX_BODY}})
    response = await post_raw(client, target, payload)
    error_json(response, 413)


async def test_oversized_chunked_body(client, target):
    """REST-ERR-009 MUST: a chunked body (no Content-Length) over 1,000,000 bytes is 413."""

    async def chunks():
        yield b'{"inputs": {"principal": 250000, "rate": 5, "years": 30, "padding": "'
        for _ in range(110):
            yield b"x" * 10_000
        yield b'"}}'

    response = await post_raw(client, target, chunks())
    error_json(response, 413)


async def test_body_just_under_limit_accepted(client, target):
    """REST-ERR-010 MUST: a body just under 1,000,000 bytes is not refused for its size (it is 200)."""
    head = body_bytes({"inputs": {**LOAN, "padding": ""}})
    payload = body_bytes({"inputs": {**LOAN, "padding": "x" * (MAX_BODY - len(head) - 100)}})
    assert len(payload) < MAX_BODY
    response = await post_raw(client, target, payload)
    assert response.status_code == 200, excerpt(response)


async def test_missing_required_body(client, target):
    """REST-ERR-011 MUST: a missing required input is 400 {error:"Missing required parameters", message,
    details.required[*].name, serviceId, inputs as sent} (1.11 step 2, 2.1 step 6)."""
    sent = {"principal": 250000}
    response = await client.post(target.execute_path("loan-calculator"), json={"inputs": sent})
    body = error_json(response, 400)
    assert body["error"] == "Missing required parameters", excerpt(response)
    required = sorted(r.get("name") for r in body.get("details", {}).get("required", []))
    assert required == ["rate", "years"], f"details.required names {required}: {excerpt(response)}"
    assert body.get("serviceId") == target.published("loan-calculator").id, excerpt(response)
    assert body.get("inputs") == sent, excerpt(response)


@pytest.mark.parametrize("blank", [None, ""], ids=["null", "empty"])
async def test_required_blank_is_missing(client, target, blank):
    """REST-ERR-012 MUST: a required input sent as null or "" counts as missing (1.11 step 2)."""
    response = await client.post(target.execute_path("loan-calculator"), json={"inputs": {**LOAN, "years": blank}})
    body = error_json(response, 400)
    assert body["error"] == "Missing required parameters", excerpt(response)
    assert [r.get("name") for r in body["details"]["required"]] == ["years"], excerpt(response)


@pytest.mark.parametrize(
    ("name", "value", "kind"),
    [
        ("principal", "abc", "type_mismatch"),
        ("principal", 999, "below_minimum"),
        ("principal", 10_000_001, "above_maximum"),
        ("years", 0, "below_minimum"),
        ("years", 41, "above_maximum"),
        ("rate", -1, "below_minimum"),
        ("frequency", "weekly", "invalid_enum_value"),
    ],
)
async def test_validation_error_body(client, target, name, value, kind):
    """REST-ERR-013 MUST: an invalid value is 400 "Parameter validation failed" with details.errors naming
    the input and its type, plus serviceId and inputs as sent (1.11 step 3, 2.1 step 6)."""
    sent = {**LOAN, name: value}
    response = await client.post(target.execute_path("loan-calculator"), json={"inputs": sent})
    validation_error(response, name, kind)
    body = json_body(response)
    assert body.get("serviceId") == target.published("loan-calculator").id, excerpt(response)
    assert body.get("inputs") == sent, excerpt(response)
    assert "outputs" not in body, excerpt(response)


async def test_every_invalid_value_reported(client, target):
    """REST-ERR-014 MUST: all invalid values are reported at once, one entry each (1.11 step 3)."""
    response = await client.post(
        target.execute_path("loan-calculator"), json={"inputs": {**LOAN, "principal": 5, "years": 99}}
    )
    validation_error(response, "principal", "below_minimum")
    validation_error(response, "years", "above_maximum")


@pytest.mark.parametrize("value", ["maybe", 2, "oui"])
async def test_boolean_type_mismatch(client, target, value):
    """REST-ERR-015 MUST: a value outside the boolean words is a type_mismatch (1.11 step 3)."""
    response = await client.post(
        target.execute_path("quote"),
        json={"inputs": {"product": "widget", "quantity": 1, "express": value}},
        headers=target.auth("quote"),
    )
    validation_error(response, "express", "type_mismatch")


async def test_only_unicode_keys(client, target):
    """REST-ERR-016 MUST: inputs with only unknown (non-ASCII) keys are missing every required input."""
    response = await client.post(
        target.execute_path("loan-calculator"), json={"inputs": {"Kapitalbetrag€": 250000, "利率": 5, "🙂": 30}}
    )
    body = error_json(response, 400)
    assert body["error"] == "Missing required parameters", excerpt(response)
    names = sorted(r.get("name") for r in body["details"]["required"])
    assert names == ["principal", "rate", "years"], excerpt(response)


@pytest.mark.parametrize(
    ("method", "endpoint", "query"),
    [
        ("POST", "execute", ""),
        ("GET", "execute", ""),
        ("GET", "execute", "?_format=csv"),
        ("GET", "details", ""),
        ("GET", "openapi", ""),
    ],
)
async def test_unknown_service(client, target, method, endpoint, query):
    """REST-ERR-020 MUST: an unknown service is 404 {"error":"Not found","message":"Service not found or not
    published"} on execute, details and openapi.json (2.1 step 5)."""
    kwargs = {"json": {"inputs": LOAN}} if method == "POST" else {}
    response = await client.request(method, target.path(endpoint, id=UNKNOWN) + query, **kwargs)
    error_json(response, 404)
    assert json_body(response) == NOT_FOUND_BODY, excerpt(response)


async def test_unknown_service_malformed_body(client, target):
    """REST-ERR-021 MUST: an unknown service with a malformed body is still a 404 or 400 JSON error, not 500."""
    response = await client.post(target.path("execute", id=UNKNOWN), content=b"{", headers=JSON)
    error_json(response, (400, 404))


@pytest.mark.parametrize("route", UNKNOWN_ROUTES)
async def test_unknown_route(client, target, route):
    """REST-ERR-022 MUST: an unknown route is 404 with a JSON {error, message} body (deviation from 2.0)."""
    error_json(await client.get(UNKNOWN_ROUTES[route](target)), 404)


@pytest.mark.parametrize(
    ("method", "endpoint"), [("DELETE", "execute"), ("PUT", "execute"), ("PATCH", "execute"), ("POST", "services")]
)
async def test_wrong_method(client, target, method, endpoint):
    """REST-ERR-023 MUST: a method the route does not take is 405 with a JSON {error, message} body (2.0)."""
    path = target.execute_path("loan-calculator") if endpoint == "execute" else target.path(endpoint)
    error_json(await client.request(method, path), 405)


@pytest.mark.parametrize("fmt", ["xml", "html", "yaml"])
async def test_unknown_format(client, target, fmt):
    """REST-ERR-024 MUST: `_format` other than json, csv or plain is 400 (2.2), where the same request with
    `_format=json` succeeds."""
    query = {k: str(v) for k, v in LOAN.items()}
    control = await client.get(target.execute_path("loan-calculator"), params={**query, "_format": "json"})
    if control.status_code != 200:
        control_failed(f"the same GET with _format=json: {excerpt(control)}")
    error_json(await client.get(target.execute_path("loan-calculator"), params={**query, "_format": fmt}), 400)


async def test_no_traceback_anywhere(target):
    """REST-ERR-030 MUST: no answer to a hostile request carries a Python traceback."""
    path = target.execute_path("loan-calculator")
    hostile = [
        ("POST", path, {"content": b"{"}),
        ("POST", path, {"content": b'{"inputs": {"principal": NaN, "rate": 5, "years": 30}}'}),
        ("POST", path, {"content": b'{"inputs": {"principal": 1e400, "rate": 5, "years": 30}}'}),
        ("POST", path, {"content": b'{"inputs": {"principal": 1, "rate": "1.2.3%", "years": 30}}'}),
        ("POST", path, {"content": b'{"inputs": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"}),
        ("POST", path, {"json": {"inputs": {"principal": {"a": 1}, "rate": [5], "years": True}}}),
        ("POST", path, {"json": {"inputs": {"principal": "0x10", "rate": "1e3", "years": " 12 "}}}),
        ("POST", path, {"json": {"inputs": {"principal": 250000, "rate": 5, "years": 30, "frequency": {}}}}),
        ("POST", path, {"json": {"inputs": {"__proto__": 1, "constructor": 2}}}),
        ("GET", path + "?principal=%FF&rate=%00&years=%E2%82", {}),
        ("GET", path + "?_format=%00", {}),
        ("GET", target.path("services") + "?limit=1e400&offset=-0", {}),
        ("GET", target.template("execute").replace("{id}", "%2e%2e"), {}),
    ]
    offenders = []
    for method, url, kwargs in hostile:
        # A fresh connection each: a server may drop a connection after it failed on it.
        async with open_client(target) as fresh:
            response = await fresh.request(method, url, headers=JSON, **kwargs)
        if TRACEBACK in response.text or 'File "/' in response.text:
            offenders.append(f"{method} {url[:80]} -> {excerpt(response, 200)}")
    assert not offenders, "tracebacks in answers:\n" + "\n".join(offenders)


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
