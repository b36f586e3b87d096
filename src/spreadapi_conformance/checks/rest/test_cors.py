"""REST-CORS: browsers may call execute from any origin (behaviour 2.1 headers, 2.3)."""

from __future__ import annotations

import pytest

from ._support import LOAN, excerpt

pytestmark = pytest.mark.conformance


PREFLIGHT = {
    "Origin": "https://app.example.org",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def any_origin(response) -> None:
    value = response.headers.get("access-control-allow-origin")
    assert value == "*", f"Access-Control-Allow-Origin {value!r}: {excerpt(response)}"


def listed(header: str | None) -> set[str]:
    return {part.strip().lower() for part in (header or "").split(",") if part.strip()}


@pytest.mark.parametrize("fixture_id", ["loan-calculator", "quote"])
async def test_options_any_origin(client, target, fixture_id):
    """REST-CORS-001 MUST: OPTIONS on execute is 2xx with Access-Control-Allow-Origin: * (2.3), without a
    token even for a private service (a preflight carries no credentials)."""
    response = await client.options(target.execute_path(fixture_id), headers=PREFLIGHT)
    assert 200 <= response.status_code < 300, excerpt(response)
    any_origin(response)


async def test_options_allows_post(client, target):
    """REST-CORS-002 MUST: OPTIONS on execute allows POST (and GET) (2.3)."""
    response = await client.options(target.execute_path("loan-calculator"), headers=PREFLIGHT)
    methods = listed(response.headers.get("access-control-allow-methods"))
    assert {"post", "get"} <= methods or "*" in methods, f"Access-Control-Allow-Methods {methods}: {excerpt(response)}"


async def test_options_allows_auth_and_json_headers(client, target):
    """REST-CORS-003 MUST: OPTIONS on execute allows the Authorization and Content-Type request headers (2.3),
    without which a browser cannot send a token or a JSON body."""
    response = await client.options(target.execute_path("quote"), headers=PREFLIGHT)
    allowed = listed(response.headers.get("access-control-allow-headers"))
    assert {"authorization", "content-type"} <= allowed or "*" in allowed, (
        f"Allow-Headers {allowed}: {excerpt(response)}"
    )


async def test_post_any_origin(client, target):
    """REST-CORS-004 MUST: a successful POST execute carries Access-Control-Allow-Origin: * (2.1)."""
    response = await client.post(target.execute_path("loan-calculator"), json={"inputs": LOAN})
    assert response.status_code == 200, excerpt(response)
    any_origin(response)


@pytest.mark.parametrize("fmt", ["json", "csv", "plain"])
async def test_get_any_origin(client, target, fmt):
    """REST-CORS-005 MUST: a successful GET execute carries Access-Control-Allow-Origin: * in every format (2.2)."""
    params = {k: str(v) for k, v in LOAN.items()} | {"_format": fmt}
    response = await client.get(target.execute_path("loan-calculator"), params=params)
    assert response.status_code == 200, excerpt(response)
    any_origin(response)


@pytest.mark.parametrize("case", ["invalid input", "no token", "unknown service", "malformed json"])
async def test_errors_any_origin(client, target, case):
    """REST-CORS-006 MUST: execute's error answers carry Access-Control-Allow-Origin: * too, so a browser
    client can read why it failed."""
    if case == "invalid input":
        response = await client.post(target.execute_path("loan-calculator"), json={"inputs": {**LOAN, "years": 0}})
    elif case == "no token":
        response = await client.post(
            target.execute_path("quote"), json={"inputs": {"product": "widget", "quantity": 1}}
        )
    elif case == "unknown service":
        response = await client.post(target.path("execute", id="no-such-service-4f1c"), json={"inputs": LOAN})
    else:
        response = await client.post(target.execute_path("loan-calculator"), content=b"{")
    assert response.status_code >= 400, excerpt(response)
    any_origin(response)
