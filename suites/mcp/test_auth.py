"""Who gets into the three MCP endpoints, and what the refusals say (requirements 1.2 RS-01..RS-11).

In process, on a fresh reference per test whose store clock moves only when told. The decisions
(see ``reference/mcp_auth.py``): missing credential 401 without an error code; a malformed,
unknown, expired or revoked credential, one of the wrong kind, or an ``oat_`` issued for another
resource 401 ``invalid_token``; a valid service token of another service 403 ``insufficient_scope``.
The single-service endpoint and ``/api/mcp`` point at their protected-resource metadata; the bridge
(MCP tokens, not OAuth) names a realm instead. Tokens in the query string are never read.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from spreadapi_conformance.checks.mcp._support import (
    ISSUER,
    JSON_RPC_HEADERS,
    RawSession,
    challenge,
    initialize_message,
    mcp_session,
    multi_service_oat,
    prm_url,
    request_message,
    service_path,
    single_service_oat,
)
from spreadapi_conformance.reference.oauth import ACCESS_TOKEN_TTL

PATHS = {"service": service_path("quote"), "bridge": "/api/mcp/bridge", "oauth": "/api/mcp"}
ENDPOINTS = tuple(PATHS)


async def valid_credential(endpoint: str, reference: Any, oauth: Any) -> str:
    if endpoint == "service":
        return reference.service_tokens["quote"]
    if endpoint == "bridge":
        return reference.mcp_tokens["all"]
    return await multi_service_oat(oauth)


async def initialize(http: httpx.AsyncClient, endpoint: str, authorization: str | None = None, **kwargs: Any):
    headers = dict(JSON_RPC_HEADERS)
    if authorization is not None:
        headers["authorization"] = authorization
    return await http.post(PATHS[endpoint], json=initialize_message(), headers=headers, **kwargs)


def leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


def refused(response: httpx.Response, endpoint: str, status: int = 401, error: str | None = "invalid_token") -> dict:
    """The status, and a Bearer challenge that points at the endpoint's metadata (or the bridge's realm)."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text[:300]}"
    scheme, params = challenge(response)
    assert scheme.lower() == "bearer", response.headers["www-authenticate"]
    if endpoint == "bridge":
        assert params.get("realm") and "resource_metadata" not in params, params
    else:
        assert params["resource_metadata"] == prm_url(ISSUER, PATHS[endpoint]), params
    if error is None:
        assert "error" not in params, f"no credential was presented, yet error={params.get('error')!r}"
    else:
        assert params.get("error") == error, params
    assert response.headers.get("cache-control") == "no-store"
    assert "mcp-session-id" not in response.headers
    return params


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_valid_credential_gets_in(fresh, fresh_http, fresh_oauth, endpoint):
    """Each endpoint serves its own kind of credential."""
    token = await valid_credential(endpoint, fresh, fresh_oauth)
    response = await initialize(fresh_http, endpoint, f"Bearer {token}")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_no_credential_is_401_with_metadata(fresh, fresh_http, endpoint):
    """Without a credential, 401 with WWW-Authenticate: Bearer resource_metadata="…" (the
    endpoint's RFC 9728 document) and scope, no error code (RFC 6750 §3.1)."""
    params = refused(await initialize(fresh_http, endpoint), endpoint, error=None)
    if endpoint == "service":
        assert params["scope"] == "spapi:service:quote:execute"
    if endpoint == "oauth":
        assert set(params["scope"].split()) == {"mcp:read", "mcp:write"}


@pytest.mark.parametrize("endpoint", ["service", "oauth"])
async def test_challenge_points_at_the_endpoint_metadata(fresh, fresh_http, endpoint):
    """The resource_metadata URL serves a document whose resource is the endpoint's URL."""
    params = refused(await initialize(fresh_http, endpoint), endpoint, error=None)
    document = await fresh_http.get(params["resource_metadata"].removeprefix(ISSUER))
    assert document.status_code == 200, document.text
    assert document.json()["resource"] == ISSUER + PATHS[endpoint]
    assert document.json()["authorization_servers"] == [ISSUER]


@pytest.mark.parametrize("garbage", ["garbage", "oat_" + "0" * 64, "spapi_live_" + "f" * 64, "svc_tk_" + "a" * 64])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_unknown_credential_is_invalid_token(fresh, fresh_http, endpoint, garbage):
    """A malformed or never-issued token is 401 invalid_token."""
    refused(await initialize(fresh_http, endpoint, f"Bearer {garbage}"), endpoint)


@pytest.mark.parametrize("endpoint", ["service", "oauth"])
async def test_expired_oauth_token_is_401(fresh, fresh_http, fresh_oauth, clock, endpoint):
    """An oat_ past its 12 h lifetime is 401 invalid_token."""
    if endpoint == "service":
        token = await single_service_oat(fresh_oauth, "quote", fresh.service_tokens["quote"])
    else:
        token = await multi_service_oat(fresh_oauth)
    assert (await initialize(fresh_http, endpoint, f"Bearer {token}")).status_code == 200
    clock.advance(ACCESS_TOKEN_TTL + 1)
    refused(await initialize(fresh_http, endpoint, f"Bearer {token}"), endpoint)


async def test_expired_service_token_is_401(fresh, fresh_http):
    """A service token past its expiry is 401 invalid_token."""
    issued = await fresh.app.state.service_tokens.issue("quote", name="short", expires_at=time.time() - 5)
    refused(await initialize(fresh_http, "service", f"Bearer {issued.token}"), "service")


async def test_revoked_service_token_is_401_at_once(fresh, fresh_http):
    """A revoked service token is refused on the next request, mid-session included."""
    issued = await fresh.app.state.service_tokens.issue("quote", name="revoked")
    session = RawSession(fresh_http, PATHS["service"], {"authorization": f"Bearer {issued.token}"})
    await session.open()
    assert await fresh.app.state.service_tokens.revoke(issued.token_id)
    refused(await session.post(request_message("tools/list")), "service")


@pytest.mark.parametrize("endpoint", ["bridge", "oauth"])
async def test_revoked_mcp_token_is_401_at_once(fresh, fresh_http, fresh_oauth, endpoint):
    """Revoking an MCP token shuts out the token itself on the bridge and every oat_ that
    wraps it on /api/mcp, on the very next request of an open session."""
    mcp_token = await fresh.mcp_registry.issue(["loan-calculator", "quote"], name="to revoke")
    credential = mcp_token if endpoint == "bridge" else await multi_service_oat(fresh_oauth, mcp_token)
    session = RawSession(fresh_http, PATHS[endpoint], {"authorization": f"Bearer {credential}"})
    await session.open()
    assert (await session.call("tools/list"))["result"]["tools"]
    assert await fresh.mcp_registry.revoke(mcp_token)
    refused(await session.post(request_message("tools/list", 3)), endpoint)
    refused(await initialize(fresh_http, endpoint, f"Bearer {credential}"), endpoint)


async def test_revocation_stops_an_sdk_client(fresh, fresh_oauth):
    """An SDK client on /api/mcp gets an error on its next call once the MCP token is revoked."""
    mcp_token = await fresh.mcp_registry.issue(["loan-calculator"], name="sdk")
    token = await multi_service_oat(fresh_oauth, mcp_token)
    failure: BaseException | None = None
    try:
        async with mcp_session(fresh.app, "/api/mcp", token=token) as session:
            assert (await session.list_tools()).tools
            await fresh.mcp_registry.revoke(mcp_token)
            await session.list_tools()
    except BaseException as exc:  # the SDK raises it alone or inside an exception group
        failure = exc
    assert failure is not None, "the call after the revocation succeeded"
    assert any(isinstance(e, MCPError) for e in leaves(failure)), repr(failure)


async def test_service_token_of_another_service_is_403(fresh, fresh_http):
    """A valid service token of another service is 403 insufficient_scope with the scope the
    endpoint needs (RFC 6750 §3.1; the REST API answers it 403 as well)."""
    other = await fresh.app.state.service_tokens.issue("edge-cases", name="other service")
    params = refused(
        await initialize(fresh_http, "service", f"Bearer {other.token}"), "service", 403, "insufficient_scope"
    )
    assert params["scope"] == "spapi:service:quote:execute"


@pytest.mark.parametrize("endpoint", ["bridge", "oauth"])
async def test_service_token_elsewhere_is_401(fresh, fresh_http, endpoint):
    """A service token is no credential for the bridge or /api/mcp (401 invalid_token)."""
    refused(await initialize(fresh_http, endpoint, f"Bearer {fresh.service_tokens['quote']}"), endpoint)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_oauth_token_for_another_resource_is_401(fresh, fresh_http, fresh_oauth, endpoint):
    """An oat_ issued for another resource (single-service grant for loan-calculator) is 401
    invalid_token everywhere else (RFC 8707 audience; no token passthrough)."""
    token = await single_service_oat(fresh_oauth, "loan-calculator")
    refused(await initialize(fresh_http, endpoint, f"Bearer {token}"), endpoint)


async def test_multi_service_token_on_single_service_endpoint_is_401(fresh, fresh_http, fresh_oauth):
    """An oat_ issued for /api/mcp does not open a single-service endpoint."""
    token = await multi_service_oat(fresh_oauth)
    refused(await initialize(fresh_http, "service", f"Bearer {token}"), "service")


async def test_single_service_oauth_token_gets_in(fresh, fresh_http, fresh_oauth):
    """An oat_ from the single-service flow (Option 2) opens exactly that service's endpoint."""
    token = await single_service_oat(fresh_oauth, "quote", fresh.service_tokens["quote"])
    async with mcp_session(fresh.app, PATHS["service"], token=token) as session:
        result = await session.call_tool("spreadapi_calc", {"inputs": {"product": "widget", "quantity": 2}})
    assert not result.is_error, result


@pytest.mark.parametrize("endpoint", ["bridge", "oauth"])
async def test_wrong_kind_of_token_is_401(fresh, fresh_http, fresh_oauth, endpoint):
    """The bridge takes no oat_, /api/mcp takes no MCP token (401 invalid_token)."""
    wrong = await multi_service_oat(fresh_oauth) if endpoint == "bridge" else fresh.mcp_tokens["all"]
    refused(await initialize(fresh_http, endpoint, f"Bearer {wrong}"), endpoint)


@pytest.mark.parametrize("name", ["access_token", "token"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_token_in_query_string_is_never_read(fresh, fresh_http, fresh_oauth, endpoint, name):
    """A valid credential in the query string counts as none (401, no error code)."""
    token = await valid_credential(endpoint, fresh, fresh_oauth)
    refused(await initialize(fresh_http, endpoint, params={name: token}), endpoint, error=None)


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_scheme_is_case_insensitive(fresh, fresh_http, fresh_oauth, endpoint, scheme):
    """The auth scheme is case-insensitive (RFC 9110 §11.1): "bearer <token>" works."""
    token = await valid_credential(endpoint, fresh, fresh_oauth)
    response = await initialize(fresh_http, endpoint, f"{scheme} {token}")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc", "Bearer a b"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_other_authorization_forms_count_as_none(fresh, fresh_http, endpoint, header):
    """An Authorization header that is not one bearer token is no credential (401)."""
    refused(await initialize(fresh_http, endpoint, header), endpoint, error=None)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_every_http_request_is_authenticated(fresh, fresh_http, fresh_oauth, endpoint):
    """GET and DELETE need the credential too; without it the session is left alone (RS-04,
    and sessions are never authentication, RS-09)."""
    token = await valid_credential(endpoint, fresh, fresh_oauth)
    session = RawSession(fresh_http, PATHS[endpoint], {"authorization": f"Bearer {token}"})
    await session.open()
    bare = session.headers(authorization=None)
    refused(await fresh_http.delete(PATHS[endpoint], headers=bare), endpoint, error=None)
    refused(
        await fresh_http.get(PATHS[endpoint], headers={**bare, "accept": "text/event-stream"}), endpoint, error=None
    )
    refused(await session.post(request_message("tools/list"), authorization=None), endpoint, error=None)
    assert (await session.call("tools/list"))["result"]["tools"], "the session should still be open"


async def test_public_service_ignores_credentials(fresh, fresh_http):
    """A public service's endpoint needs no credential and ignores any (as the REST API does)."""
    for authorization in (None, "Bearer garbage", f"Bearer oat_{secrets.token_hex(32)}"):
        headers = {**JSON_RPC_HEADERS, **({"authorization": authorization} if authorization else {})}
        response = await fresh_http.post(service_path("loan-calculator"), json=initialize_message(), headers=headers)
        assert response.status_code == 200, (authorization, response.text)


async def test_unknown_service_is_404(fresh, fresh_http):
    """An unknown service id is 404 before any authentication, as on the REST API."""
    response = await fresh_http.post(
        service_path("no-such-service"), json=initialize_message(), headers=JSON_RPC_HEADERS
    )
    assert response.status_code == 404, response.text
    assert "www-authenticate" not in response.headers
