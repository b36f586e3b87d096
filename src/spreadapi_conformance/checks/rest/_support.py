"""Helpers shared by the REST checks: HTTP only, so every check runs against any target."""

from __future__ import annotations

import asyncio
import json
import math
from typing import TYPE_CHECKING, Any

import httpx

from spreadapi_conformance.fixtures import ServiceDef, load_services

from ..answers import excerpt, json_value, named_values

if TYPE_CHECKING:
    from ..target import Target


TRACEBACK = "Traceback (most recent call last)"
NOT_FOUND_BODY = {"error": "Not found", "message": "Service not found or not published"}
FIXTURE_IDS = tuple(load_services())
# One valid set of inputs per fixture service, for checks that need a request the service accepts.
LOAN = {"principal": 250000, "rate": 0.05, "years": 30}
QUOTE = {"product": "widget", "quantity": 10}
EDGE = {"numerator": 1, "denominator": 4}


def open_client(target: Target, **kwargs: Any) -> httpx.AsyncClient:
    """A client for the target. In process, an unhandled server error becomes the 500 response a real
    server would send (httpx's ASGI transport would raise it into the test instead)."""
    if target.app is not None:
        kwargs.setdefault("transport", httpx.ASGITransport(app=target.app, raise_app_exceptions=False))
    return target.client(**kwargs)


async def post(client: httpx.AsyncClient, target: Target, fixture_id: str, inputs: Any, **extra: Any) -> httpx.Response:
    """POST execute ``{"inputs": inputs, **extra}`` with the service's credential."""
    return await client.post(
        target.execute_path(fixture_id), json={"inputs": inputs, **extra}, headers=target.auth(fixture_id)
    )


def post_inputs(target: Target, fixture_id: str, inputs: dict[str, Any]) -> httpx.Response:
    """:func:`post` on a fresh client and event loop, for sync (hypothesis) checks."""
    return request_once(
        target, "POST", target.execute_path(fixture_id), json={"inputs": inputs}, headers=target.auth(fixture_id)
    )


def golden(target: Target, param: tuple[str, int]) -> dict[str, Any]:
    """The golden case ``(fixture id, index)`` of :func:`golden_params`."""
    fixture_id, index = param
    return target.fixture(fixture_id).golden[index]


def request_once(target: Target, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request on a fresh client and event loop: for sync (hypothesis) tests."""

    async def go() -> httpx.Response:
        async with open_client(target) as http:
            response = await http.request(method, url, **kwargs)
            await response.aread()
            return response

    return asyncio.run(go())


def json_body(response: httpx.Response) -> Any:
    return json_value(response)


def ok_json(response: httpx.Response) -> dict[str, Any]:
    """The body of a 200 JSON answer, failing with what the server said otherwise."""
    assert response.status_code == 200, f"expected 200, got {excerpt(response)}"
    body = json_body(response)
    assert isinstance(body, dict), f"expected a JSON object, got {excerpt(response)}"
    return body


def error_json(response: httpx.Response, status: int | tuple[int, ...]) -> dict[str, Any]:
    """The body of an error answer: the expected status, JSON with string `error` and `message`,
    and no traceback."""
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, f"expected HTTP {' or '.join(map(str, statuses))}, got {excerpt(response)}"
    assert TRACEBACK not in response.text, f"the error body carries a Python traceback: {excerpt(response)}"
    body = json_value(response, deep=True)  # only its top level is read: an echo of a deep input is legal
    assert isinstance(body, dict), f"the error body is not a JSON object: {excerpt(response)}"
    assert isinstance(body.get("error"), str) and body["error"], f"no string `error`: {excerpt(response)}"
    assert isinstance(body.get("message"), str) and body["message"], f"no string `message`: {excerpt(response)}"
    return body


def outputs_of(body: dict[str, Any]) -> dict[str, Any]:
    return named_values(body, "outputs", "the execute body")


def echo_of(body: dict[str, Any]) -> dict[str, Any]:
    return named_values(body, "inputs", "the execute body")


def golden_params() -> list[tuple[str, int]]:
    """(fixture id, case index) of every golden case of every fixture service."""
    return [(fid, i) for fid, service in load_services().items() for i in range(len(service.golden))]


def golden_id(param: tuple[str, int]) -> str:
    return f"{param[0]}-{param[1]}"


def query_text(value: Any) -> str:
    """A JSON input value as a client would put it into a query string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _query_typed(text: str) -> Any:
    """SpreadAPI's GET typing (behaviour 2.2): true/false are booleans, numbers are numbers."""
    if text in ("true", "false"):
        return text == "true"
    try:
        number = float(text)
    except ValueError:
        return text
    return number if text.strip() and math.isfinite(number) else text


def survives_query(service: ServiceDef, inputs: dict[str, Any]) -> str | None:
    """None when sending ``inputs`` as query parameters means the same as the JSON body, else why not."""
    for key, value in inputs.items():
        spec = next((s for s in service.inputs if s.name == key.lower()), None)
        typed = _query_typed(query_text(value))
        if spec is None or not isinstance(value, str) or type(typed) is str:
            continue
        if spec.type == "string":
            return f"{key}={value!r} is a string but the query typing makes it {typed!r}"
        if isinstance(typed, bool) and spec.type in ("number", "integer"):
            return f"{key}={value!r} would arrive as the boolean {typed!r}"
    return None


def body_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")
